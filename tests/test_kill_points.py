"""Every enqueued point evaluated exactly once, whatever moments the driver is
killed at: ``tadml_disc`` (the paper's six discriminator structures enqueued
before TPE) is SIGKILLed, with every process of its session (Ray's included),
at moments drawn at random, several times, resumed after each kill and once
more at the end. The moments come from a seeded generator and are printed, so a
failure can be replayed: ``DISTILLERY_KILL_SEED=N pytest tests/test_kill_points.py``."""
import glob
import os
import random
import signal
import time

import optuna
import pyarrow.parquet as pq
import pytest

from search_spaces import load_sweep
from sweep_runner import cli, popen

pytestmark = pytest.mark.slow
SEED = int(os.environ.get("DISTILLERY_KILL_SEED", "20261201"))
KILLS = 3
TRIALS = 8
ARGS = ("platform.sweep", "tadml_disc", "--preset", "smoke", "--trials", str(TRIALS),
        "--set", "train.epochs=2", "--set", "data.train_limit=300")


def session_pids(sid):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    pids.append(int(entry))
            except (ProcessLookupError, PermissionError):
                pass
    return pids


def kill_session(driver):
    """SIGKILL the driver and everything it started (Ray's GCS, raylet and workers share its
    session but not always its process group), as a crash of the machine's driver would."""
    sid = os.getsid(driver.pid)
    for _ in range(20):
        pids = session_pids(sid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    driver.wait()


def experiment_of(storage):
    found = glob.glob(os.path.join(storage, "*", "experiment.yaml"))
    return os.path.dirname(found[0]) if found else None


def test_enqueued_points_survive_random_kills(tmp_path):
    rng = random.Random(SEED)
    moments = [round(rng.uniform(3.0, 20.0), 2) for _ in range(KILLS)]
    print(f"kill seed {SEED}: moments {moments} s after each (re)start")
    storage = str(tmp_path / "exp")
    for moment in moments:
        resume = ("--resume",) if experiment_of(storage) else ()
        driver = popen(*ARGS, "--storage", storage, *resume)
        deadline = time.time() + moment
        while time.time() < deadline and driver.poll() is None:
            time.sleep(0.05)
        if driver.poll() is None:
            kill_session(driver)
    # every kill may have come before the experiment folder existed (a slow start): then start it now
    final = cli(*ARGS, "--storage", storage, *(("--resume",) if experiment_of(storage) else ()), timeout=900)
    assert final.returncode == 0, f"seed {SEED} moments {moments}\n" + final.stdout[-3000:] + final.stderr[-2000:]
    experiment = experiment_of(storage)
    rows = pq.read_table(os.path.join(experiment, "trials.parquet")).to_pylist()
    structures = [r["param.method.disc_structure"] for r in rows]
    paper = list(load_sweep("tadml_disc").paper["values"])
    context = f"seed {SEED} moments {moments}: {structures}"
    assert all(r["status"] == "ok" for r in rows), context
    assert len(rows) >= TRIALS and len({r["trial_id"] for r in rows}) == len(rows), context
    assert set(paper) <= set(structures), context
    assert "have no finished trial" not in final.stdout, context
    study = optuna.load_study(study_name="tadml_disc", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(os.path.join(experiment, "optuna.journal"))))
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.RUNNING not in states and optuna.trial.TrialState.WAITING not in states, context
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == len(rows), context           # the study and the experiment agree
    # each enqueued point ran to completion exactly once (Optuna marks the trials it handed out
    # from the queue with their fixed parameters; TPE's own proposals carry none)
    points = load_sweep("tadml_disc").points_for("smoke")
    from_queue = [t.system_attrs.get("fixed_params") for t in complete]
    for point in points:
        assert from_queue.count(point) == 1, f"{point}: {context}"
    # an orphan closed as FAIL had its parameters run again
    for failed in (t for t in study.trials if t.state == optuna.trial.TrialState.FAIL):
        assert any(c.params == failed.params for c in complete), f"{failed.params}: {context}"
