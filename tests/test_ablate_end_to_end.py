"""A real ablation (local Ray, real training on digits): each grid point runs
exactly once per seed, also when the driver is killed and the study resumed,
and the table comes out in the paper's layout with a plot."""
import collections
import glob
import os
import signal
import time

import pyarrow.parquet as pq
import pytest

from sweep_runner import cli, popen

pytestmark = pytest.mark.slow
INPUTS = {"conv4", "fc", "conv4+fc", "fc+dae", "fc+label", "fc+avgfc"}


def test_killed_ablation_resumes_and_runs_each_point_once_per_seed(tmp_path):
    storage = str(tmp_path / "exp")
    args = ("platform.ablate", "tadml_input", "--preset", "smoke", "--seeds", "2", "--storage", storage,
            "--set", "train.epochs=1", "--set", "data.train_limit=300")
    driver = popen(*args)
    deadline, experiment = time.time() + 400, None
    while time.time() < deadline:
        found = glob.glob(os.path.join(storage, "*", "trials.parquet"))
        if found and len(pq.read_table(found[0])) >= 3:
            experiment = os.path.dirname(found[0])
            break
        assert driver.poll() is None, driver.stdout.read()[-2000:]
        time.sleep(0.2)
    assert experiment, "no trials finished in time"
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    resumed = cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    rows = pq.read_table(os.path.join(experiment, "trials.parquet")).to_pylist()
    runs = collections.Counter((r["param.method.disc_input"], r["seed"]) for r in rows)
    assert set(runs) == {(i, s) for i in INPUTS for s in (0, 1)}
    assert set(runs.values()) == {1}
    assert all(r["status"] == "ok" for r in rows)
    table = open(os.path.join(experiment, "report", "table.md")).read()
    body = [line for line in table.splitlines() if line.startswith("| ") and "±" in line]
    assert len(body) == 6 and "72.51" in table
    with open(os.path.join(experiment, "report", "table.png"), "rb") as fh:
        assert fh.read(4) == b"\x89PNG"
