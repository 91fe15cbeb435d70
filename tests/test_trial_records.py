"""What trials.parquet records is what trained: a preset's later key changes a row's
``param.`` value, a row's ``null`` wins over a column's key inside it, and every row names its
networks, teacher (or none) and data."""
import json

from platform.experiment_run import resolved_variants
from platform.trial_records import trial_row
from search_spaces import load_sweep
from search_spaces.grid import ablation_variants
from trainables.trial_config import BASE_KEY, VARIANT_KEY


def rows_of(name, preset):
    from distill.config import apply_overrides

    spec = load_sweep(name)
    base = apply_overrides(spec.base, list(spec.preset(preset).set.items()))
    if base.get("teacher"):
        base["teacher"].setdefault("store", "/tmp/teachers")
    variants = ablation_variants(spec, preset)
    last = {"epoch": 1}
    return {(v.get("search.algorithm") or v.get("search.row"), v.get("search.dataset") or v.get("search.setting")):
            trial_row("t", {BASE_KEY: base, VARIANT_KEY: v, "seed": 0}, last) for v in variants}


def test_networks_recorded_are_those_that_trained():
    rows = rows_of("compression", "smoke")
    dml = rows[("DML", "digits")]
    # the row names resnet20 / resnet164; the smoke preset's variant_overrides make them resnet8 / resnet14
    assert [(n["name"], n["arch"]) for n in json.loads(dml["param.networks"])] == [("student", "resnet8"),
                                                                                  ("peer", "resnet14")]
    assert dml["networks"] == "student:resnet8, peer:resnet14" and dml["teacher"] == "none"
    assert rows[("KD", "digits")]["teacher"] == "resnet14" and rows[("KD", "digits")]["data"] == "digits"


def test_a_null_in_a_row_wins_over_a_columns_key_inside_it():
    """dafl's Standard row sets teacher: null; its column sets teacher.arch: the run has no teacher."""
    rows = rows_of("dafl", "smoke")
    standard = rows[("Standard", "digits")]
    assert standard["teacher"] == "none" and "teacher" not in json.loads(standard["config_json"])
    assert rows[("KD", "digits")]["teacher"] == "lenet5"


def test_resolved_variants_agree_with_the_records():
    spec = load_sweep("dafl")
    base = dict(spec.base, teacher=dict(spec.base["teacher"], store="/tmp/teachers"))
    variants = ablation_variants(spec, "paper")
    for config, variant in zip(resolved_variants(base, variants), variants):
        row = trial_row("t", {BASE_KEY: base, VARIANT_KEY: variant, "seed": 0}, {"epoch": 1})
        assert json.loads(row["config_json"]) == config


def test_the_summary_fits_120_columns_and_says_what_it_left_out():
    from platform.sweep_summary import format_table

    method = json.dumps({"name": "dafl", "inputs": "generator", "latent_dim": 100, "one_hot_weight": 1.0,
                         "activation_weight": 0.1, "entropy_weight": 5.0, "generator_width": 128})
    rows = [{"trial_id": f"trial_{i:05d}", "status": "ok", "epochs": 5, "wall_seconds": 12.5,
             "param.row": f"row {i}", "param.method": method.replace("dafl", f"dafl{i}"), "param.optim.lr": 0.01 * (i + 1),
             "param.unchanging": 3, **{f"param.method.weight_{k}": 0.1 * i + k for k in range(6)},
             "val_acc.net0": 80.0 + i, "test_acc.net0": 79.0 + i} for i in range(4)]
    text = format_table(rows, "val_acc.net0", "max")
    assert max(len(line) for line in text.splitlines()) <= 120
    header = text.splitlines()[0]
    assert header.split()[2] == "row" and "unchanging" not in text   # labels first; a constant is noise
    note = text[text.index("(not shown"):].replace("\n", " ")
    for key in ["optim.lr", "method"] + [f"method.weight_{k}" for k in range(6)]:
        assert key in header.split() or f" {key}," in note or f" {key};" in note, key
