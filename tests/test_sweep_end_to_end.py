"""A real sweep: real Ray (local), real Optuna, real training on digits, each trial on two
data-parallel workers (gloo on CPU), the driver killed after the first trial and resumed;
then export -> distill.train round trip (the exported config runs its two ranks again and
gives the trial's numbers), resume of a finished sweep."""
import glob
import json
import os
import time

import pyarrow.parquet as pq
import pytest
import yaml

from sweep_runner import cli, popen
from test_kill_points import kill_session

pytestmark = pytest.mark.slow
TINY = ["--set", "train.epochs=2", "--set", "data.train_limit=400"]


def experiment_dirs(storage):
    return sorted(os.path.dirname(p) for p in glob.glob(os.path.join(storage, "*", "experiment.yaml")))


def read_trials(experiment):
    return pq.read_table(os.path.join(experiment, "trials.parquet")).to_pylist()


# a driver killed mid-sweep and resumed: tests/test_sweep_faults.py (test_driver_killed_then_resumed)
def test_sweep_export_and_retrain(tmp_path):
    storage = str(tmp_path / "exp")
    args = ("platform.sweep", "dml_smoke", "--preset", "smoke", "--trials", "3", "--workers-per-trial", "2",
            "--storage", storage, *TINY)
    first = popen(*args)
    deadline = time.time() + 600
    while time.time() < deadline and first.poll() is None:   # killed once the first trial has its row
        if experiment_dirs(storage) and os.path.exists(os.path.join(experiment_dirs(storage)[0], "trials.parquet")):
            break
        time.sleep(0.05)
    assert first.poll() is None, "the sweep ended before it could be killed: " + first.stdout.read()[-3000:]
    kill_session(first)
    run = cli(*args, "--resume")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "best trial" in run.stdout and "best config" in run.stdout
    (experiment,) = experiment_dirs(storage)
    rows = read_trials(experiment)
    assert len(rows) == 3 and {r["status"] for r in rows} == {"ok"}
    assert len({r["trial_id"] for r in rows}) == 3
    assert {r["workers"] for r in rows} == {2} and {r["worker_nodes"] for r in rows} == {1}
    for row in rows:
        for column in ("param.method.temperature", "param.optim.lr", "val_acc.net0", "val_acc.net1",
                       "best_val_acc.net0", "test_acc.net0", "epochs", "wall_seconds", "seed", "config_json"):
            assert row[column] is not None, column
        assert row["epochs"] == 2
        # where the trial's own process spent its time (benchmarks/trial_overhead.py --profile)
        assert all(row[f"time.{phase}_s"] > 0 for phase in ("setup", "train", "evaluate", "checkpoint"))
        assert row["time.report_s"] >= 0   # the first report's; the last one's is not known when it is sent
        resolved = json.loads(row["config_json"])
        assert resolved["method"]["temperature"] == pytest.approx(row["param.method.temperature"])
        # the resolved config is also saved beside the trial's own results
        saved = yaml.safe_load(open(os.path.join(experiment, "tune", f"trial_{row['trial_id']}", "resolved_config.yaml")))
        assert saved == resolved
    # the paper's point is evaluated first
    assert any(r["param.method.temperature"] == 1.0 and r["param.optim.lr"] == 0.1 for r in rows)
    assert os.path.exists(os.path.join(experiment, "optuna.journal"))

    export = cli("platform.export", experiment, "--top", "2", "--out", str(tmp_path / "exported"))
    assert export.returncode == 0, export.stderr
    files = sorted(glob.glob(str(tmp_path / "exported" / "*.yaml")))
    assert len(files) == 2 and os.path.basename(files[0]).startswith("rank1_")
    best = max(rows, key=lambda r: r["val_acc.net0"])
    assert best["trial_id"] in os.path.basename(files[0])
    config = yaml.safe_load(open(files[0]))
    config["output_dir"] = str(tmp_path / "retrain")
    with open(files[0], "w") as fh:
        yaml.safe_dump(config, fh)
    assert config["trial"]["workers"] == 2
    train = cli("distill.train", "--config", files[0])
    assert train.returncode == 0, train.stderr[-2000:]
    assert "2 data-parallel processes" in train.stdout
    history = [json.loads(line) for line in open(tmp_path / "retrain" / "metrics.jsonl")]
    # same seed, same config, same numbers on CPU as inside the sweep
    assert history[-1]["val_acc.net0"] == pytest.approx(best["val_acc.net0"])

    again = cli("platform.sweep", "dml_smoke", "--preset", "smoke", "--storage", storage, "--resume")
    assert again.returncode == 0, again.stderr[-2000:]
    assert {r["trial_id"] for r in read_trials(experiment)} == {r["trial_id"] for r in rows}
