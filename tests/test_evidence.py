"""The evidence command: every family's presets validate, the equal-budget row search draws
the same configurations every time, the table takes each row's best draw by validation (an
inherited ablation row keeps its zero weights), bad input ends in one line before Ray, and
one family runs end to end on generated IDX files."""
import json
import os

import pytest
import yaml

from platform.evidence import best_draws, restricted, table_sweep, validate
from platform.evidence_families import FAMILIES, TABLE_PRESET, TUNE_PRESET
from search_spaces import load_sweep
from search_spaces.grid import row_draws, sweep_grid
from search_spaces.sweep_spec import merged_sweep
from sweep_runner import cli, cli_in_process
from test_fashion_mnist import make_fashion


class Args:
    size, address, cpus_per_trial, gpus_per_trial, num_cpus = "full", None, None, None, None

    def __init__(self, storage, data_root):
        self.storage, self.data_root = str(storage), str(data_root)


@pytest.fixture(scope="module")
def fashion_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("fashion")
    make_fashion(root, n_train=300, n_test=100)
    return root


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_validates_at_full_size(family, fashion_root, tmp_path):
    fam = FAMILIES[family]
    validate(Args(tmp_path, fashion_root), [fam])
    spec = load_sweep(fam.sweep)
    assert {fam.tune_preset, fam.table_preset} <= set(spec.presets)
    search = spec.preset(fam.tune_preset).row_search
    assert 6 <= search.draws <= 10 and "optim.lr" in search.common and search.recipe_row
    rows = [str(r) for r in spec.variants_for(fam.table_preset)[search.axis]]
    claims = spec.preset(fam.table_preset).claims
    claims = spec.claims if claims is None else claims
    assert claims
    for claim in claims:
        assert claim.row in rows + list(spec.table.reference_rows) and claim.than in rows, claim.text


def test_every_row_gets_the_same_number_of_draws_and_the_same_draws_each_time():
    spec = load_sweep("compression")
    variants = sweep_grid(spec, TUNE_PRESET)
    search = spec.preset(TUNE_PRESET).row_search
    per_row = {}
    for v in variants:
        per_row.setdefault(v["search.algorithm"], []).append(v)
    assert len(per_row) == 13 and {len(v) for v in per_row.values()} == {search.draws}
    assert [v["optim.lr"] for v in per_row["KD"]] == [d["optim.lr"] for d in row_draws(search, "KD", spec.seed)]
    assert sweep_grid(spec, TUNE_PRESET) == variants
    # a row searches its own weight (and temperature), the baseline the learning rate alone
    assert set(per_row["KD"][0]) >= {"method.alpha", "method.temperature", "optim.lr"}
    assert "method.alpha" not in per_row["Student alone"][0]


def test_inherited_rows_are_not_searched():
    spec = load_sweep("dafl")
    rows = {v["search.row"] for v in sweep_grid(spec, TUNE_PRESET)}
    assert "DAFL" in rows and not rows & {"L_oh", "L_a", "L_oh+L_ie", "L_a+L_ie"}


def test_the_recipe_is_tuned_on_the_baseline_alone_then_each_row_at_it():
    """Phase 1: the recipe row's draws over the shared space (lr); phase 2: every other row's draws
    over its own space only, the recipe's values set for all."""
    from distill.typed_dict import from_dict
    from search_spaces.sweep_spec import SweepSpec

    merged = merged_sweep("tadml_pairs")
    first = from_dict(SweepSpec, restricted(merged, "algorithm", ["independent"]))
    variants = sweep_grid(first, TUNE_PRESET)
    assert {v["search.algorithm"] for v in variants} == {"independent"} and len(variants) == 6
    assert all(set(v) >= {"optim.lr"} for v in variants)
    second = from_dict(SweepSpec, restricted(merged, "algorithm", ["KD", "DML"], {"optim.lr": 0.07}, common=False))
    variants = sweep_grid(second, TUNE_PRESET)
    assert {v["search.algorithm"] for v in variants} == {"KD", "DML"} and len(variants) == 12
    assert all("optim.lr" not in v for v in variants)
    assert second.preset(TUNE_PRESET).set["optim.lr"] == 0.07
    # a row that searches a recipe key itself (the offline family's rows, LeNet without BatchNorm)
    # draws its own value over the recipe's
    offline = from_dict(SweepSpec, restricted(merged_sweep("compression"), "algorithm", ["FitNet"], {"optim.lr": 0.1},
                                              common=False))
    variants = sweep_grid(offline, TUNE_PRESET)
    assert len({v["optim.lr"] for v in variants}) == 6 and all(0.01 <= v["optim.lr"] <= 0.2 for v in variants)


def test_the_best_draw_is_chosen_on_the_validation_metric_never_the_test_split():
    records = [
        {"status": "ok", "param.algorithm": "KD", "param.draw": 0, "val_acc.student": 80.0, "test_acc.student": 99.0},
        {"status": "ok", "param.algorithm": "KD", "param.draw": 1, "val_acc.student": 82.0, "test_acc.student": 70.0},
        {"status": "failed", "param.algorithm": "KD", "param.draw": 2, "val_acc.student": 95.0},
        {"status": "ok", "param.algorithm": "AT", "param.draw": 0, "val_acc.student": float("nan")},
        {"status": "ok", "param.algorithm": "AT", "param.draw": 3, "val_acc.student": 81.0},
    ]
    chosen = best_draws(records, "algorithm", "val_acc.student", "max")
    assert chosen["KD"]["draw"] == 1 and chosen["AT"]["draw"] == 3
    assert best_draws(records, "algorithm", "val_acc.student", "min")["KD"]["draw"] == 0


def test_the_table_takes_the_selected_values_and_an_ablation_row_keeps_its_zero_weights():
    tuned = merged_sweep("dafl")
    dafl = {"method.one_hot_weight": 2.0, "method.activation_weight": 0.3, "method.entropy_weight": 7.0,
            "method.generator_lr": 0.05, "optim.lr": 0.004}
    selected = {"axis": "row", "recipe": {"row": "Standard", "values": {"optim.lr": 0.002}},
                "rows": {"DAFL": {"draw": 2, "values": dafl},
                                        "KD": {"draw": 0, "values": {"optim.lr": 0.001, "method.alpha": 0.5}},
                                        "L_oh": {"inherits": "DAFL", "values": dict(dafl)}}}
    spec_dict = table_sweep(tuned, selected)
    from distill.typed_dict import from_dict
    from search_spaces.sweep_spec import SweepSpec

    rows = from_dict(SweepSpec, spec_dict).variants_for(TABLE_PRESET)["row"]
    assert rows["DAFL"]["method.generator_lr"] == 0.05 and rows["KD"]["method.alpha"] == 0.5
    assert rows["L_oh"]["method.activation_weight"] == 0.0 and rows["L_oh"]["method.entropy_weight"] == 0.0
    assert rows["L_oh"]["method.one_hot_weight"] == 2.0 and rows["L_oh"]["optim.lr"] == 0.004
    assert from_dict(SweepSpec, spec_dict).preset(TABLE_PRESET).set["optim.lr"] == 0.002   # the recipe, every row


@pytest.mark.parametrize("argv, field", [
    (["offline", "--data-root", "/nonexistent/fashion"], "data.root"),
    (["nonesuch"], "FAMILY"),
    (["logit", "--size", "huge"], "--size"),
])
def test_bad_input_is_one_line_before_ray_and_writes_nothing(argv, field, tmp_path):
    storage = tmp_path / "ev"
    result = cli_in_process("platform.evidence", *argv, "--storage", str(storage))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0]
    assert not storage.exists() or not any(storage.iterdir())


@pytest.mark.slow
def test_a_family_runs_end_to_end_on_generated_files(fashion_root, tmp_path):
    storage = tmp_path / "ev"
    result = cli("platform.evidence", "logit", "--size", "smoke", "--data-root", str(fashion_root),
                 "--storage", str(storage), timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    family = storage / "logit"
    selected = yaml.safe_load((family / "selected.yaml").read_text())
    assert set(selected["rows"]) == {"independent", "KD", "DML", "ADML", "TADML"}
    assert selected["recipe"]["row"] == "independent" and set(selected["recipe"]["values"]) == {"optim.lr"}
    # the table's trials ran with the recipe and each row's selected values
    import pyarrow.parquet as pq

    table = pq.read_table(family / "table" / "trials.parquet").to_pandas()
    assert len(table) == 5 * 2 and set(table["status"]) == {"ok"}
    for _, trial in table.iterrows():
        config = json.loads(trial["config_json"])
        assert config["optim"]["lr"] == pytest.approx(selected["recipe"]["values"]["optim.lr"])
        for key, value in selected["rows"][trial["param.algorithm"]]["values"].items():
            assert config["method"][key.split(".", 1)[1]] == pytest.approx(value), key
    text = (family / "evidence.md").read_text()
    assert "| KD |" in text and "What the papers claim" in text and "fewer than 3 seeds" in text
    assert "KD beats the student trained alone" in text and "Holm" in text
    assert os.path.isfile(storage / "evidence.md")
    timing = json.loads((family / "timing.json").read_text())
    assert timing["tune_seconds"] > 0 and timing["table_seconds"] > 0
