"""Trials that wait for each other before they train. A check that needs N
trials running at the same time (that trials sharing a node never share a GPU;
that a sweep spreads over the nodes) sets ``DISTILLERY_START_BARRIER=DIR:N`` in
the environment of the Ray nodes: each trial marks its arrival in DIR (a folder
every node sees) and starts only when N trials have arrived, so the overlap is
made, not hoped for. Unset (the normal case), trials start at once."""
import os
import time

ENV = "DISTILLERY_START_BARRIER"


def wait_at_start_barrier(trial_id: str, timeout_s: float = 300.0) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    folder, _, count = spec.rpartition(":")
    if not folder or not count.isdigit():
        raise ValueError(f"{ENV} must be DIR:N, got {spec!r}")
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, trial_id), "a").close()
    deadline = time.monotonic() + timeout_s
    while len(os.listdir(folder)) < int(count):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{ENV}: only {len(os.listdir(folder))} of {count} trials arrived in {timeout_s:.0f} s")
        time.sleep(0.05)
