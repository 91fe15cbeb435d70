"""Seed 002's comparison as one command (local Ray, real training on digits):
every row trains once per seed, each exit's and branch's accuracy lands in
trials.parquet, the table has every row and SCD's gains beside the paper's;
the SCD ablation grid runs into its own table."""
import json
import os

import pyarrow.parquet as pq
import pytest

from search_spaces import load_sweep
from sweep_runner import cli

pytestmark = pytest.mark.slow
QUICK = ["--seeds", "1", "--set", "train.epochs=1", "--set", "data.train_limit=256"]


def experiment(storage, name):
    (folder,) = [os.path.join(storage, d) for d in os.listdir(storage) if d.startswith(name)]
    return folder, pq.read_table(os.path.join(folder, "trials.parquet")).to_pylist()


def table_lines(folder):
    text = open(os.path.join(folder, "report", "table.md")).read()
    return text, {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}


def test_self_distill_smoke_table(tmp_path):
    storage = str(tmp_path / "exp")
    result = cli("platform.ablate", "self_distill", "--preset", "smoke", "--storage", storage, *QUICK,
                 "--set", "teacher.epochs=2", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    folder, rows = experiment(storage, "self_distill")
    algorithms = set(load_sweep("self_distill").variants["algorithm"])
    assert {r["param.algorithm"] for r in rows} == algorithms
    assert all(r["status"] == "ok" for r in rows), [(r["param.algorithm"], r["error"]) for r in rows if r["error"]]
    by_row = {r["param.algorithm"]: r for r in rows}
    for algorithm in ("SCD", "BYOT"):   # resnet8: 3 stages, so 2 shallow exits and the network's own
        r = by_row[algorithm]
        assert r["test_acc.net0.exit3"] == r["test_acc.net0"]
        assert all(0 <= r[f"test_acc.net0.{k}"] <= 100 for k in ("exit1", "exit2", "ensemble"))
    assert all(by_row["ONE"][f"test_acc.net0.branch{i}"] is not None for i in (1, 2, 3))
    assert by_row["Baseline"].get("test_acc.net0.exit1") is None
    text, lines = table_lines(folder)
    header = lines["algorithm"].split("|")
    ours = [c.strip() for c in header].index("digits")
    for algorithm in algorithms:
        assert algorithm in lines and "–" not in lines[algorithm].split("|")[ours], lines.get(algorithm)
    # a smoke run on digits: the paper's CIFAR-100 numbers stand in a column of their own
    assert "paper: CIFAR-100" in lines["algorithm"] and "78.60" in lines["BYOT"] and "(78.60)" not in text
    heads = open(os.path.join(folder, "report", "heads.md")).read()
    assert "| SCD | digits |" in heads and "| ONE | digits |" in heads and "Baseline" not in heads
    for group, paper in (("SAD, SP", "+1.42"), ("BYOT, ONE", "+1.13"), ("DDGSD, CS-KD", "+1.23")):
        assert group in lines and paper in lines[group] and "digits" in lines[group]


def test_scd_ablation_smoke_table(tmp_path):
    storage = str(tmp_path / "exp")
    result = cli("platform.ablate", "scd_ablation", "--preset", "smoke", "--storage", storage, *QUICK, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    folder, rows = experiment(storage, "scd_ablation")
    variants = set(load_sweep("scd_ablation").variants["variant"])
    assert {r["param.variant"] for r in rows} == variants and all(r["status"] == "ok" for r in rows)
    configs = {r["param.variant"]: json.loads(r["config_json"])["method"] for r in rows}
    assert configs["without L_sim"]["similarity_weight"] == 0.0 and configs["progressive chain"]["direction"] == "progressive"
    _, lines = table_lines(folder)
    assert variants <= set(lines)
