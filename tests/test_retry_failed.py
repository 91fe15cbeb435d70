"""``--retry-failed`` on resume: a trial that ended in an error (its worker died
with no retries left) stays failed on a plain ``--resume`` and runs again from
its last checkpoint with ``--retry-failed``; the study then holds the failed
attempt and the retry's result. Without ``--resume`` the flag is a usage error."""
import os
import signal

import optuna
import pyarrow.parquet as pq
import pytest

from sweep_runner import cli, popen
from test_platform_cli_errors import assert_usage_error
from test_sweep_faults import experiment_of, first_result_while_running, wait_for

pytestmark = pytest.mark.slow


def rows_of(storage):
    return pq.read_table(os.path.join(experiment_of(storage), "trials.parquet")).to_pylist()


def test_failed_trial_stays_failed_then_retries_from_its_checkpoint(tmp_path):
    storage = str(tmp_path / "exp")
    args = ("platform.sweep", "dml_smoke", "--trials", "1", "--storage", storage, "--max-failures", "0",
            "--set", "train.epochs=6", "--set", "data.train_limit=600")
    driver = popen(*args)

    result = wait_for(first_result_while_running(storage), driver)
    os.kill(result["worker_pid"], signal.SIGKILL)        # no retries left: the trial ends in an error
    driver.communicate(timeout=300)
    (row,) = rows_of(storage)
    assert row["status"] == "failed" and row["error"]

    plain = cli(*args, "--resume", timeout=300)
    (row,) = rows_of(storage)
    assert row["status"] == "failed", plain.stdout[-2000:]   # without the flag, failed stays failed

    retried = cli(*args, "--resume", "--retry-failed", timeout=300)
    assert retried.returncode == 0, retried.stdout[-3000:] + retried.stderr[-3000:]
    (row,) = rows_of(storage)
    assert row["status"] == "ok" and row["epochs"] == 6 and not row["error"]
    assert row["resumed_from_epoch"] >= 1                  # from its checkpoint, not from scratch
    study = optuna.load_study(study_name="dml_smoke", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(os.path.join(experiment_of(storage), "optuna.journal"))))
    failed, complete = study.trials
    assert failed.state == optuna.trial.TrialState.FAIL and complete.state == optuna.trial.TrialState.COMPLETE
    assert complete.params == failed.params and complete.user_attrs["retry_of"] == failed.number
    assert complete.value == pytest.approx(row["val_acc.net0"])


def test_retry_failed_needs_resume(tmp_path):
    run = cli("platform.sweep", "dml_smoke", "--retry-failed", "--storage", str(tmp_path / "exp"), timeout=120)
    assert_usage_error(run, "--retry-failed", "--resume")
