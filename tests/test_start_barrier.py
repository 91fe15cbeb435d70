"""The start barrier that makes trials overlap when a check needs them to: no
trial passes before N have arrived; unset, it does nothing; too few arrivals
end in an error naming the count, not a hang."""
import threading

import pytest

from trainables.start_barrier import ENV, wait_at_start_barrier


def test_nobody_passes_before_everyone_arrived(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, f"{tmp_path / 'b'}:3")
    arrived, passed = [], []

    def trial(name):
        arrived.append(name)
        wait_at_start_barrier(name, timeout_s=60)
        passed.append((name, len(arrived)))
    threads = [threading.Thread(target=trial, args=(f"t{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(0.5)
    assert passed == [] and all(t.is_alive() for t in threads)   # two of three: both still wait
    trial("t2")
    for t in threads:
        t.join(60)
    assert sorted(name for name, _ in passed) == ["t0", "t1", "t2"] and all(n == 3 for _, n in passed)


def test_unset_is_a_no_op(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    wait_at_start_barrier("t0", timeout_s=0)


def test_too_few_arrivals_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, f"{tmp_path / 'b'}:2")
    with pytest.raises(RuntimeError, match="only 1 of 2"):
        wait_at_start_barrier("t0", timeout_s=0.2)
