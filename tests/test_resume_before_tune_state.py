"""A driver killed after Tune wrote ``tuner.pkl`` and before its first experiment snapshot
(the searcher's state): Tune 2.60 keeps no param space in ``tuner.pkl``, so the resume
rebuilds it from ``experiment.yaml``; without it every new trial's config would lack the
engine config and the resumed driver would crash at the first trial start."""
import glob
import os
import shutil

import pyarrow.parquet as pq
import pytest

from sweep_runner import cli

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
    rows = pq.read_table(os.path.join(os.path.dirname(tune_dir), "trials.parquet")).to_pylist()
    assert rows and all(r["status"] == "ok" for r in rows)
