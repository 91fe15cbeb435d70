"""Resumes from what a kill leaves of Tune's state: the trials of a snapshot without its
search state (killed while Tune copied its first snapshot into the storage, as a CI run of
the random-kill test was): Tune restored the
trials beside a search algorithm that planned none, and the sweep ended, exit 0, after the
trials already started. Now that snapshot is set aside, Tune starts again and the Optuna
study decides what is left: every planned trial runs, the killed driver's running trial
again, and each paper point exactly once. (A kill before Tune's first snapshot, ``tuner.pkl``
alone, takes the same path: no complete snapshot, the run is built again.)"""
import glob
import os
import time

import optuna
import pyarrow.parquet as pq
import pytest

from sweep_runner import cli, popen

pytestmark = pytest.mark.slow

KILLED = ("platform.sweep", "tadml_disc", "--preset", "smoke", "--trials", "3", "--num-cpus", "1",
          "--set", "train.epochs=2", "--set", "data.train_limit=200", "--set", "train.eval_test=false")


def rows_of(experiment):
    path = os.path.join(experiment, "trials.parquet")
    return pq.read_table(path).to_pylist() if os.path.exists(path) else []


def test_a_snapshot_without_its_search_state_is_set_aside_and_every_planned_trial_runs(tmp_path):
    from test_kill_points import kill_session

    storage = str(tmp_path / "exp")
    driver = popen(*KILLED, "--storage", storage)
    deadline = time.time() + 600
    while time.time() < deadline and driver.poll() is None:   # the moment the first trial has its row
        found = glob.glob(os.path.join(storage, "*", "trials.parquet"))
        if found and rows_of(os.path.dirname(found[0])):
            break
        time.sleep(0.05)
    assert driver.poll() is None, "the sweep ended before it could be killed: " + driver.stdout.read()[-3000:]
    kill_session(driver)
    [experiment] = glob.glob(os.path.join(storage, "*"))
    tune_dir = os.path.join(experiment, "tune")
    assert len(rows_of(experiment)) == 1 and glob.glob(os.path.join(tune_dir, "experiment_state-*.json"))
    for name in os.listdir(tune_dir):   # the copy into the storage stopped after the trials
        if name.startswith(("search_gen_state-", "searcher-state-", "callback-states-")):
            os.remove(os.path.join(tune_dir, name))
    resumed = cli(*KILLED, "--storage", storage, "--resume")
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-4000:]
    assert "was cut short by the kill" in resumed.stdout and "starts the experiment again" in resumed.stdout
    assert glob.glob(os.path.join(tune_dir, "cut_short", "experiment_state-*.json"))
    rows = rows_of(experiment)
    assert len(rows) == 3 and all(r["status"] == "ok" for r in rows), resumed.stdout[-3000:]
    study = optuna.load_study(study_name="tadml_disc", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(os.path.join(experiment, "optuna.journal"))))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 3 and not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    fixed = [t.system_attrs.get("fixed_params") for t in complete]
    assert all(fixed.count(point) == 1 for point in fixed)   # the paper points, each once
