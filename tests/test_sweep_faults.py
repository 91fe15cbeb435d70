"""Faults a cluster produces, for real on this machine: a driver killed at
several points and resumed, a trial whose worker dies (retried from its last
checkpoint), a diverging trial (failed with its reason, never retried), and the
Optuna study in an RDB instead of the journal file."""
import glob
import json
import os
import signal
import time

import optuna
import pyarrow.parquet as pq
import pytest

from sweep_runner import cli, popen

pytestmark = pytest.mark.slow
TINY = ("--set", "data.train_limit=300")


def experiment_of(storage):
    found = glob.glob(os.path.join(storage, "*", "experiment.yaml"))
    return os.path.dirname(found[0]) if found else None


def read_rows(experiment):
    return pq.read_table(os.path.join(experiment, "trials.parquet")).to_pylist()


def wait_for(predicate, driver, seconds=300):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        assert driver.poll() is None, driver.stdout.read()[-3000:]
        time.sleep(0.1)
    raise AssertionError("timed out")


def first_result_while_running(storage, before_epoch=5):
    """The first epoch's result of the sweep's one trial, while it is still before ``before_epoch``."""
    def probe():
        experiment = experiment_of(storage)
        files = glob.glob(os.path.join(experiment, "tune", "trial_*", "result.json")) if experiment else []
        lines = [json.loads(line) for f in files for line in open(f) if line.strip()]
        return lines[0] if lines and lines[-1]["epoch"] < before_epoch else None
    return probe


@pytest.mark.parametrize("kill_after_rows", [0, 2])
def test_driver_killed_then_resumed(tmp_path, kill_after_rows):
    storage = str(tmp_path / "exp")
    args = ("platform.sweep", "dml_smoke", "--trials", "4", "--storage", storage, "--set", "train.epochs=2", *TINY)
    driver = popen(*args)

    def ready():
        experiment = experiment_of(storage)
        if not experiment:
            return None
        path = os.path.join(experiment, "trials.parquet")
        rows = pq.read_table(path).num_rows if os.path.exists(path) else 0   # readable at every moment
        if kill_after_rows == 0:
            # mid-trial: some trial has reported an epoch, none has finished
            started = glob.glob(os.path.join(experiment, "tune", "trial_*", "checkpoint_*"))
            return experiment if started and rows == 0 else None
        return experiment if rows >= kill_after_rows else None

    experiment = wait_for(ready, driver)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    before = {r["trial_id"] for r in read_rows(experiment)} if os.path.exists(
        os.path.join(experiment, "trials.parquet")) else set()
    resumed = cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    rows = read_rows(experiment)
    assert len(rows) == 4 and len({r["trial_id"] for r in rows}) == 4 and before <= {r["trial_id"] for r in rows}
    assert all(r["status"] == "ok" for r in rows)
    # the report after the resume counts every trial once
    report = cli("platform.report", experiment)
    assert report.returncode == 0, report.stderr[-2000:]
    listed = [line for line in report.stdout.splitlines() if any(line.startswith(r["trial_id"]) for r in rows)]
    assert len(listed) == 4


@pytest.mark.parametrize("workers", [1, 2])
def test_dead_worker_is_retried_from_its_checkpoint(tmp_path, workers):
    """One process dies (OOM killer, lost node): the trial's own, or, for a trial on two
    data-parallel workers, rank 1's; either way the trial fails and Tune retries it from its
    last checkpoint, with new processes."""
    storage = str(tmp_path / "exp")
    driver = popen("platform.sweep", "dml_smoke", "--trials", "1", "--storage", storage, "--max-failures", "1",
                   "--workers-per-trial", str(workers), "--set", "train.epochs=6", "--set", "data.train_limit=600")

    result = wait_for(first_result_while_running(storage), driver)
    victim = result["worker_pid"] if workers == 1 else int(result["rank_pids"].split(",")[1])
    os.kill(victim, signal.SIGKILL)
    output, _ = driver.communicate(timeout=300)
    assert driver.returncode == 0, output[-3000:]
    (row,) = read_rows(experiment_of(storage))
    assert row["status"] == "ok" and row["epochs"] == 6 and row["workers"] == workers
    assert row["resumed_from_epoch"] >= 1                  # continued from a checkpoint, not from scratch
    assert row["worker_pid"] != result["worker_pid"] or workers == 2
    if workers == 2:
        assert row["rank_pids"] != result["rank_pids"]     # the retry's ranks are new processes


def test_diverging_trial_fails_with_reason_and_is_not_retried(tmp_path):
    storage = str(tmp_path / "exp")
    run = cli("platform.sweep", "dml_smoke", "--trials", "1", "--storage", storage, "--max-failures", "2",
              "--set", "optim.lr=1e30", "--set", "train.epochs=2", *TINY)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]    # no trial finished
    experiment = experiment_of(storage)
    (row,) = read_rows(experiment)
    assert row["status"] == "failed" and row["error"].startswith("diverged: loss became non-finite")
    assert "resumed_from_epoch" not in row or row["resumed_from_epoch"] is None
    results = [line for f in glob.glob(os.path.join(experiment, "tune", "trial_*", "result.json")) for line in open(f)]
    assert len(results) == 1                                # one attempt, one report
    study = optuna.load_study(study_name="dml_smoke", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(os.path.join(experiment, "optuna.journal"))))
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL]


def test_optuna_study_in_an_rdb(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    run = cli("platform.sweep", "dml_smoke", "--trials", "2", "--storage", str(tmp_path / "exp"),
              "--optuna-storage", url, "--set", "train.epochs=1", *TINY)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    study = optuna.load_study(study_name="dml_smoke", storage=url)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert not os.path.exists(os.path.join(experiment_of(str(tmp_path / "exp")), "optuna.journal"))
