"""Resumes from what a kill leaves of Tune's state.

``tuner.pkl`` alone (killed before Tune's first experiment snapshot): Tune 2.60 keeps no
param space in ``tuner.pkl``, so the resume rebuilds it from ``experiment.yaml``; without it
every new trial's config would lack the engine config and the resumed driver would crash at
the first trial start.

The trials of a snapshot without its search state (killed while Tune copied its first
snapshot into the storage, as a CI run of the random-kill test was): Tune restored the
trials beside a search algorithm that planned none, and the sweep ended, exit 0, after the
trials already started. Now that snapshot is set aside, Tune starts again and the Optuna
study decides what is left: every planned trial runs, the killed driver's running trial
again, and each paper point exactly once."""
import glob
import os
import shutil
import time

import optuna
import pyarrow.parquet as pq
import pytest

from sweep_runner import cli, popen

pytestmark = pytest.mark.slow

ARGS = ("platform.sweep", "dml_smoke", "--trials", "2", "--num-cpus", "1", "--set", "train.epochs=1",
        "--set", "data.train_limit=64", "--set", "train.eval_test=false")


def test_a_resume_from_only_tuner_pkl_rebuilds_the_param_space(tmp_path):
    storage = str(tmp_path / "exp")
    first = cli(*ARGS, "--storage", storage)
    assert first.returncode == 0, first.stderr[-3000:]
    [tune_dir] = glob.glob(os.path.join(storage, "*", "tune"))
    for name in os.listdir(tune_dir):   # what the kill left: tuner.pkl and nothing else of Tune's
        if name != "tuner.pkl":
            path = os.path.join(tune_dir, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    resumed = cli(*ARGS, "--storage", storage, "--resume")
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-4000:]
    assert "KeyError" not in resumed.stderr
    assert "no experiment snapshot to restore; Tune starts the experiment again" in resumed.stdout
    rows = pq.read_table(os.path.join(os.path.dirname(tune_dir), "trials.parquet")).to_pylist()
    assert rows and all(r["status"] == "ok" for r in rows)


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
    assert "was cut short by the kill" in resumed.stdout and "Tune starts the experiment again" in resumed.stdout
    assert glob.glob(os.path.join(tune_dir, "cut_short", "experiment_state-*.json"))
    rows = rows_of(experiment)
    assert len(rows) == 3 and all(r["status"] == "ok" for r in rows), resumed.stdout[-3000:]
    study = optuna.load_study(study_name="tadml_disc", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(os.path.join(experiment, "optuna.journal"))))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 3 and not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    fixed = [t.system_attrs.get("fixed_params") for t in complete]
    assert all(fixed.count(point) == 1 for point in fixed)   # the paper points, each once
