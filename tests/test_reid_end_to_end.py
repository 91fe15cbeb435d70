"""Seed 000 Table 6 and seed 004's DarkRank comparison as one command each (local Ray, real
training on the generated Market-format folder, one epoch): every Table 6 cell trains once,
trials.parquet holds mAP and rank-1 of each network, table.md prints the mAP table with the
paper's numbers and the rank-1 table beside it; every DarkRank row trains from a frozen
teacher and reports the student's val_map.net0. The two commands run at once, one CPU each
(``--num-cpus 1``), so one's Ray start overlaps the other's trials."""
import os

import pyarrow.parquet as pq
import pytest
import torch

from distill.data.market_smoke import TRAIN_IDS
from distill.models import build_model
from search_spaces import load_sweep
from sweep_runner import popen

pytestmark = pytest.mark.slow
QUICK = ["--preset", "smoke", "--set", "train.epochs=1"]


def experiment(storage, name):
    (folder,) = [os.path.join(storage, d) for d in os.listdir(storage) if d.startswith(name)]
    return folder, pq.read_table(os.path.join(folder, "trials.parquet")).to_pylist()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("reid")
    # a given (untrained) teacher state dict instead of the store: the rows, not the teacher, are tested here
    teacher = root / "teacher.pt"
    torch.save(build_model("mobilenet_v1", TRAIN_IDS, 3).state_dict(), teacher)
    commands = {
        "tadml_reid": ["platform.ablate", "tadml_reid", "--seeds", "1"],
        "darkrank": ["platform.sweep", "darkrank", "--set", f"teacher.checkpoint={teacher}",
                     "--set", "teacher.epochs=null"],
    }
    started = {name: (popen(*args, *QUICK, "--num-cpus", "1", "--storage", str(root / name)), str(root / name))
               for name, args in commands.items()}
    out = {}
    for name, (proc, storage) in started.items():
        output, _ = proc.communicate(timeout=600)
        out[name] = (proc.returncode, output, storage)
    return out


def test_table_6_smoke_ablation(runs):
    code, output, storage = runs["tadml_reid"]
    assert code == 0, output[-5000:]
    folder, rows = experiment(storage, "tadml_reid")
    spec = load_sweep("tadml_reid")
    cells = {(r["param.pair"], r["param.algorithm"]) for r in rows}
    assert cells == {(p, a) for p in spec.variants["pair"] for a in spec.variants["algorithm"]}
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows if r["error"]]
    for r in rows:
        for name in ("net0", "net1", "concat"):
            assert 0 <= r[f"test_map.{name}"] <= 100 and 0 <= r[f"test_rank1.{name}"] <= 100
            assert r[f"test_map_plain.{name}"] is not None and r[f"best_val_map.{name}"] is not None
    table = open(os.path.join(folder, "report", "table.md")).read()
    map_part, rank_part = table.split("rank1, ours only")
    assert "53.84" in map_part and "66.03" in map_part and "TADML net1" in map_part
    assert "TADML net1" in rank_part and "test_rank1.net0, test_rank1.net1" in rank_part
    for pair in spec.variants["pair"]:
        assert map_part.count(f"| {pair} |") == 1 and rank_part.count(f"| {pair} |") == 1
    assert "rank1, ours only" in output   # printed too


def test_darkrank_smoke_sweep(runs):
    code, output, storage = runs["darkrank"]
    assert code == 0, output[-5000:]
    _, rows = experiment(storage, "darkrank")
    by_row = {r["param.algorithm"]: r for r in rows}
    assert set(by_row) == set(load_sweep("darkrank").variants["algorithm"])
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows if r["error"]]
    assert all(0 <= r["val_map.net0"] <= 100 and r["test_rank1.net0"] is not None for r in rows)
    assert all(r["test_map.teacher"] is not None for name, r in by_row.items() if name != "baseline")
    assert "val_map.net0" in output and "training teacher" not in output
