"""Seed 000's Table 7 as one command (local Ray, real training on digits): every
runnable row trains once per seed, the teacher is trained once into the store,
and the table keeps the paper's layout, the quantized rows sized in bits."""
import glob
import os

import pyarrow.parquet as pq
import pytest

from search_spaces import load_sweep
from sweep_runner import cli

pytestmark = pytest.mark.slow


def test_compression_smoke_table(tmp_path):
    storage = str(tmp_path / "exp")
    result = cli("platform.ablate", "compression", "--preset", "smoke", "--seeds", "1", "--storage", storage,
                 "--set", "train.epochs=1", "--set", "teacher.epochs=2", "--set", "data.train_limit=256", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (experiment,) = [os.path.join(storage, d) for d in os.listdir(storage) if d.startswith("compression")]
    rows = pq.read_table(os.path.join(experiment, "trials.parquet")).to_pylist()
    spec = load_sweep("compression")
    algorithms = set(spec.variants["algorithm"])
    assert {r["param.algorithm"] for r in rows} == algorithms
    assert all(r["status"] == "ok" for r in rows), [(r["param.algorithm"], r["error"]) for r in rows if r["error"]]
    table = open(os.path.join(experiment, "report", "table.md")).read()
    lines = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    for algorithm in algorithms:
        assert algorithm in lines, algorithm
    # the quantized rows train and show their students' size in bits
    for row, bits in (("Quantization (TTQ)", "2 bit"), ("BinaryConnect", "1 bit")):
        assert bits in lines[row] and "not run" not in lines[row], lines[row]
    assert "93.05" in lines["TADML"] and "CIFAR-10" in table and "digits" in table
    assert "params.student" in table
    # one ResNet-14 teacher serves every teacher row (the FSP row's smoke teacher is the same one)
    teachers = glob.glob(os.path.join(storage, "teachers", "*", "teacher.yaml"))
    assert len(teachers) == 1, teachers
    assert "training teacher" in result.stdout
