"""The sweep features the dafl tables need: rows crossed with only some columns (``when``),
a row value taken from the column's row (``${key}``), a sweep's second table with its own
rows and columns, and a reference row read off another row's trials (the teacher)."""
import pytest
import yaml

from distill.errors import ConfigError
from platform.ablation_table import build_table
from search_spaces import load_sweep
from search_spaces.grid import grid_variants, resolve_references


def test_dafl_grid_runs_the_ablation_rows_on_mnist_lenet_only():
    spec = load_sweep("dafl")
    paper = grid_variants(spec.space_for("paper"), spec.variants_for("paper"))
    cells = {(v["search.row"], v["search.setting"]) for v in paper}
    # 6 trained rows x 4 columns, CelebA's 5 (no alternative data set of faces), the meta-data row on
    # the two MNIST columns and CelebA, 4 ablation rows on one column
    assert len(paper) == len(cells) == 6 * 4 + 5 + 3 + 4
    assert {c for r, c in cells if r == "Meta-data"} == {"MNIST LeNet-5", "MNIST HintonNet", "CelebA"}
    assert {c for r, c in cells if r == "Alternative data"} == {"MNIST LeNet-5", "MNIST HintonNet", "CIFAR-10",
                                                                  "CIFAR-100"}
    for row in ("L_oh", "L_a", "L_oh+L_ie", "L_a+L_ie"):
        assert {c for r, c in cells if r == row} == {"MNIST LeNet-5"}
    smoke = grid_variants(spec.space_for("smoke"), spec.variants_for("smoke"))
    # digits runs every row; the generated CelebA folder the rows the paper reports on CelebA
    assert len(smoke) == 11 + 3 and {v["search.setting"] for v in smoke} == {"digits", "CelebA (generated)"}
    assert {v["search.row"] for v in smoke if v["search.setting"] == "CelebA (generated)"} == {"Standard", "KD",
                                                                                              "DAFL"}
    same = {v["search.setting"]: v["networks.0.arch"] for v in paper if v["search.row"] == "DAFL, teacher's architecture"}
    assert same == {"MNIST LeNet-5": "lenet5", "MNIST HintonNet": "hintonnet_teacher", "CIFAR-10": "resnet34",
                    "CIFAR-100": "resnet34", "CelebA": "alexnet"}   # seed 003's extension: the teacher's own
    celeba = {v["search.row"]: v for v in paper if v["search.setting"] == "CelebA"}
    assert celeba["DAFL"]["data.name"] == "celeba" and celeba["DAFL"]["teacher"]["arch"] == "alexnet"
    assert celeba["DAFL"]["networks.0.arch"] == "alexnet_half"
    # the reference's face values for the meta-data reconstruction
    assert celeba["Meta-data"]["method"]["init_mean"] == 0.44 and celeba["Meta-data"]["method"]["init_std"] == 0.29
    assert spec.paper["values"]["DAFL"]["CelebA"] == 80.03
    assert all("when" not in v for v in paper + smoke)


def test_alternative_data_row_takes_each_columns_transfer_set():
    spec = load_sweep("dafl")
    paper = grid_variants(spec.space_for("paper"), spec.variants_for("paper"))
    transfer = {v["search.setting"]: v["data.transfer"] for v in paper if v["search.row"] == "Alternative data"}
    assert transfer == {"MNIST LeNet-5": "usps32", "MNIST HintonNet": "usps28", "CIFAR-10": "cifar100",
                        "CIFAR-100": "cifar10"}
    cifar_kd = next(v for v in paper if v["search.row"] == "KD" and v["search.setting"] == "CIFAR-10")
    assert cifar_kd["train.epochs"] == 200 and cifar_kd["optim.milestones"] == [80, 120]
    cifar_dafl = next(v for v in paper if v["search.row"] == "DAFL" and v["search.setting"] == "CIFAR-100")
    assert cifar_dafl["train.epochs"] == 2000 and cifar_dafl["method"]["entropy_weight"] == 20.0


def test_a_reference_no_row_sets_names_the_cell():
    combo = [("row", "A", {}), ("setting", "s1", {})]
    with pytest.raises(ConfigError) as err:
        resolve_references({"data.transfer": "${search.nothing}", "search.row": "A"}, combo)
    assert "row=A, setting=s1" in err.value.field and "search.nothing" in str(err.value)


def write(tmp_path, body):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(body))
    return str(path)


SWEEP = {"base": {}, "metric": "val_acc.net0", "sampler": "grid",
         "variants": {"col": {"c1": {}, "c2": {}}, "row": {"a": {}, "b": {"when": {"col": ["c1"]}}}},
         "presets": {"smoke": {"variants": {"col": {"d": {}}}}}}


def test_a_preset_without_the_rows_a_when_names_is_refused(tmp_path):
    spec = load_sweep(write(tmp_path, SWEEP))
    with pytest.raises(ConfigError) as err:
        spec.variants_for("smoke")
    assert err.value.field == "presets.smoke.variant_overrides.row.b.when" and "c1" in str(err.value)


@pytest.mark.parametrize("when, field", [({"nope": ["c1"]}, "variants.row.b.when"),
                                         ({"col": []}, "variants.row.b.when.col"),
                                         ("c1", "variants.row.b.when")])
def test_bad_row_conditions_name_the_field(tmp_path, when, field):
    body = yaml.safe_load(yaml.safe_dump(SWEEP))
    body["variants"]["row"]["b"]["when"] = when
    with pytest.raises(ConfigError) as err:
        load_sweep(write(tmp_path, body))
    assert err.value.field == field


def test_table_only_rows_and_reference_rows_name_existing_rows(tmp_path):
    body = {**SWEEP, "table": {"rows": "row", "columns": "col", "only_rows": ["a", "zz"]}}
    with pytest.raises(ConfigError) as err:
        load_sweep(write(tmp_path, body))
    assert err.value.field == "table.only_rows"
    body = {**SWEEP, "table": {"rows": "row", "reference_rows": {"T": {"row": "zz", "metric": "test_acc.teacher"}}}}
    with pytest.raises(ConfigError) as err:
        load_sweep(write(tmp_path, body))
    assert err.value.field == "table.reference_rows.T.row"


def record(row, column, seed, acc, teacher=None):
    out = {"status": "ok", "seed": seed, "param.search.row": row, "param.search.setting": column,
           "test_acc.net0": acc}
    if teacher is not None:
        out["test_acc.teacher"] = teacher
    return out


def test_dafl_tables_keep_their_rows_columns_and_the_teacher():
    spec = load_sweep("dafl")
    rows = [record("Standard", "digits", s, 97.0 + s) for s in (0, 1)]
    rows += [record("DAFL", "digits", s, 80.0 + s, teacher=98.5) for s in (0, 1)]
    rows += [record("L_oh", "digits", s, 60.0 + s) for s in (0, 1)]
    main = build_table(rows, spec.table, "test_acc.net0", spec.paper)
    assert main.row_labels == ["Teacher", "Standard", "KD", "Normal noise", "Alternative data", "Meta-data", "DAFL",
                               "DAFL, teacher's architecture"]
    assert main.cell("Meta-data", "MNIST LeNet-5").paper == 92.47
    assert main.cell("Teacher", "digits").mean == 98.5 and main.cell("Teacher", "digits").n == 2
    assert main.cell("Teacher", "MNIST LeNet-5").paper == 98.91
    assert main.cell("DAFL", "digits").mean == 80.5
    ablation = build_table(rows, spec.tables["ablation"], "test_acc.net0", spec.paper)
    assert ablation.row_labels == ["Normal noise", "L_oh", "L_a", "L_oh+L_ie", "L_a+L_ie", "DAFL"]
    assert ablation.column_labels == ["MNIST LeNet-5", "digits"]
    assert ablation.cell("DAFL", "MNIST LeNet-5").paper == 98.20
    assert ablation.cell("L_oh", "digits").mean == 60.5


@pytest.mark.parametrize("name", ["dafl", "dafl_search"])
def test_every_dafl_trial_resolves_to_a_valid_engine_config(name):
    from distill.config import apply_overrides, config_from_dict
    from search_spaces.grid import ablation_variants
    from trainables.trial_config import BASE_KEY, VARIANT_KEY, resolve_trial_config

    spec = load_sweep(name)
    for preset_name, preset in spec.presets.items():
        base = apply_overrides(spec.base, list(preset.set.items()))
        base["teacher"]["checkpoint"] = "unused.pt"
        variants = ablation_variants(spec, preset_name)
        for variant in variants:
            config = config_from_dict(resolve_trial_config({BASE_KEY: base, VARIANT_KEY: variant}))
            if config.teacher is not None:
                config.teacher.checkpoint = None
            assert config.method.name in ("dafl", "kd", "independent", "meta_data")
        assert variants


def test_a_rows_dotted_keys_never_reach_another_cells_method():
    """Normal noise refines the column's DAFL method with method.inputs; the DAFL row of the same
    column must keep the generator (the shared YAML value is copied per cell and per override)."""
    from distill.config import apply_overrides
    from trainables.trial_config import BASE_KEY, VARIANT_KEY, resolve_trial_config

    spec = load_sweep("dafl")
    base = apply_overrides(spec.base, list(spec.presets["smoke"].set.items()))
    base["teacher"]["checkpoint"] = "unused.pt"
    variants = grid_variants(spec.space_for("smoke"), spec.variants_for("smoke"))
    resolved = {v["search.row"]: resolve_trial_config({BASE_KEY: base, VARIANT_KEY: v}) for v in variants}
    assert resolved["Normal noise"]["method"]["inputs"] == "normal_noise"
    for row in ("DAFL", "L_oh", "L_a", "L_oh+L_ie", "L_a+L_ie"):
        assert resolved[row]["method"]["inputs"] == "generator", row
    assert resolved["L_oh"]["method"]["activation_weight"] == 0.0 and resolved["DAFL"]["method"]["activation_weight"] == 0.1


def test_trials_table_keeps_the_data_free_score():
    """dafl_search selects on val_agreement.net0: trials.parquet must hold it (and the teacher's score)."""
    from distill.config import apply_overrides
    from platform.trial_records import trial_row
    from trainables.trial_config import BASE_KEY, VARIANT_KEY

    spec = load_sweep("dafl_search")
    base = apply_overrides(spec.base, list(spec.presets["smoke"].set.items()))
    base["teacher"]["checkpoint"] = "unused.pt"
    last = {"epoch": 3, "val_agreement.net0": 71.5, "best_val_agreement.net0": 72.0, "test_agreement.net0": 71.5,
            "val_acc.net0": 80.0, "test_acc.net0": 79.0, "test_acc.teacher": 95.0}
    row = trial_row("t0", {BASE_KEY: base, VARIANT_KEY: dict(spec.points[0])}, last)
    for key, value in last.items():
        if key != "epoch":
            assert row[key] == value, key
