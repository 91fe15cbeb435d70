"""The TADML sweeps reproduce the seed 000 tables (SPEC section 5): each grid
enumerates exactly its table's configurations, each resolves to a valid engine
config, and the paper numbers match. The expected tables are written out here
from the seed text, not read from the YAML files."""
import optuna
import pytest

from distill.adversarial.discriminator import parse_structure
from distill.config import apply_overrides
from search_spaces import load_sweep
from search_spaces.define_by_run import SpaceFunction
from search_spaces.discriminator_space import discriminator_structure, structure_point
from search_spaces.grid import grid_variants
from trainables.trial_config import resolve_trial_config

TADML_SWEEPS = ("tadml_loss", "tadml_disc", "tadml_input", "tadml_k", "tadml_pairs", "tadml_weights")

# -- the seed 000 tables ---------------------------------------------------------------
TABLE1 = {   # loss rows: (CIFAR10, CIFAR100); which weights are on (js, l1, l2, adv, topology)
    "LS": ((92.90, 70.47), (0, 0, 0, 0, 0)),
    "LS+LJS": ((93.18, 71.70), (1, 0, 0, 0, 0)),
    "LS+LJS+Ladv": ((93.52, 72.75), (1, 0, 0, 1, 0)),
    "LS+L1+Ladv": ((93.04, 71.97), (0, 1, 0, 1, 0)),
    "LS+L2+Ladv": ((93.26, 72.02), (0, 0, 1, 1, 0)),
    "LS+L1+LJS+Ladv": ((92.87, 71.63), (1, 1, 0, 1, 0)),
    "LS+L2+LJS+Ladv": ((92.38, 70.90), (1, 0, 1, 1, 0)),
    "LS+LJS+Ladv+LT": ((93.05, 71.81), (1, 0, 0, 1, 1)),
}
TABLE2 = {"256fc-256fc": 71.57, "500fc-500fc": 72.09, "100fc-100fc-100fc": 72.33, "128fc-256fc-128fc": 72.51,
          "64fc-128fc-256fc-128fc": 72.28, "128fc-256fc-256fc-128fc": 72.23}
TABLE3 = {"conv4": 72.33, "fc": 72.51, "conv4+fc": 72.07, "fc+dae": 71.97, "fc+label": 72.35, "fc+avgfc": 71.20}
TABLE4 = {   # sampling row: (ResNet32, ResNet110)
    "vanilla": (71.14, 74.31), "random": (72.12, 74.59), "K=2": (31.07, 22.64), "K=4": (60.69, 52.33),
    "K=8": (72.43, 74.59), "K=16": (72.84, 75.18), "K=32": (72.50, 75.01), "K=64": (71.99, 74.59),
}
TABLE4_NETWORKS = {"ResNet32": "resnet32", "ResNet110": "resnet110"}
TABLE5 = {   # pair: (archs, {method: [network 1, network 2]})
    "R32-R32": (("resnet32", "resnet32"), {"independent": [70.47, 70.47], "DML": [71.86, 71.89],
                                           "ADML": [72.85, 72.89], "TADML": [73.07, 73.13]}),
    "R32-R110": (("resnet32", "resnet110"), {"independent": [70.47, 73.12], "DML": [71.62, 74.08],
                                             "ADML": [72.66, 74.18], "TADML": [73.14, 74.86]}),
    "R110-R110": (("resnet110", "resnet110"), {"independent": [73.12, 73.12], "DML": [74.59, 74.55],
                                               "ADML": [75.08, 75.10], "TADML": [75.52, 75.71]}),
    "WRN-10-4-WRN-10-4": (("wrn_10_4", "wrn_10_4"), {"independent": [72.65, 72.65], "DML": [73.06, 73.01],
                                                     "ADML": [73.77, 73.75], "TADML": [73.97, 74.08]}),
    "WRN-10-4-WRN-28-10": (("wrn_10_4", "wrn_28_10"), {"independent": [72.65, 80.77], "DML": [73.58, 81.11],
                                                       "ADML": [74.61, 81.43], "TADML": [75.11, 82.13]}),
}
TABLE5_METHODS = {"independent": "independent", "DML": "dml", "ADML": "adml", "TADML": "tadml"}


# -- helpers --------------------------------------------------------------------------
def preset_base(spec, preset):
    return apply_overrides(spec.base, list(spec.preset(preset).set.items()))


def resolve(spec, preset, variant):
    return resolve_trial_config({"engine_config": preset_base(spec, preset), "variant": variant})


def paper_grid(name):
    spec = load_sweep(name)
    return spec, grid_variants(spec.space_for("paper"), spec.variants_for("paper"))


def label(variant, axis):
    """A variant's row label on an axis: a named axis (``search.<axis>``) or a searched key."""
    return variant["search." + axis] if "search." + axis in variant else variant[axis]


def cell(spec, variant):
    rows = label(variant, spec.table.rows)
    return (rows, label(variant, spec.table.columns)) if spec.table.columns else rows


def assert_unique(variants):
    keys = [repr(sorted(v.items(), key=lambda kv: kv[0])) for v in variants]
    assert len(set(keys)) == len(keys), "a configuration is enumerated twice"


def disc_variants(spec, preset):
    """tadml_disc's enqueued points with the structure derived from them."""
    out = []
    for point in spec.points_for(preset):
        derived = discriminator_structure(optuna.trial.FixedTrial(point), {})
        out.append({**point, **derived})
    return out


# -- grids enumerate exactly their tables ---------------------------------------------
def test_tadml_loss_grid_is_table_1():
    spec, variants = paper_grid("tadml_loss")
    assert len(variants) == 16
    assert_unique(variants)
    assert sorted(cell(spec, v) for v in variants) == sorted((row, ds) for row in TABLE1 for ds in ("CIFAR10", "CIFAR100"))
    for v in variants:
        config = resolve(spec, "paper", v)
        row, ds = cell(spec, v)
        m = config["method"]
        assert config["data"]["name"] == {"CIFAR10": "cifar10", "CIFAR100": "cifar100"}[ds]
        on = tuple(int(m[k] > 0) for k in ("js_weight", "l1_weight", "l2_weight", "adv_weight", "topology_weight"))
        assert on == TABLE1[row][1], f"{row}: weights {on}"
        assert m["name"] == "tadml" and m["ce_weight"] == 1.0
        assert [n["arch"] for n in config["networks"]] == ["resnet32", "resnet32"]


def test_tadml_loss_ls_row_has_only_cross_entropy():
    spec, variants = paper_grid("tadml_loss")
    ls = [v for v in variants if cell(spec, v)[0] == "LS"]
    assert len(ls) == 2
    for v in ls:
        m = resolve(spec, "paper", v)["method"]
        assert (m["js_weight"], m["adv_weight"], m["topology_weight"], m["l1_weight"], m["l2_weight"]) == (0, 0, 0, 0, 0)


def test_tadml_input_grid_is_table_3():
    spec, variants = paper_grid("tadml_input")
    assert len(variants) == 6
    assert_unique(variants)
    assert sorted(cell(spec, v) for v in variants) == sorted(TABLE3)
    for v in variants:
        m = resolve(spec, "paper", v)["method"]
        assert m["disc_input"] == cell(spec, v)
        assert m["disc_structure"] == "128fc-256fc-128fc" and m["adv_weight"] > 0


def test_tadml_k_grid_is_table_4():
    spec, variants = paper_grid("tadml_k")
    assert len(variants) == 16
    assert_unique(variants)
    assert sorted(cell(spec, v) for v in variants) == sorted((row, net) for row in TABLE4 for net in TABLE4_NETWORKS)
    for v in variants:
        config = resolve(spec, "paper", v)
        row, net = cell(spec, v)
        m, data = config["method"], config["data"]
        assert [n["arch"] for n in config["networks"]] == [TABLE4_NETWORKS[net]] * 2
        assert m["topology_weight"] > 0 and m["adv_weight"] > 0
        if row == "vanilla":
            assert data["classes_per_batch"] is None and m["topology_neighbourhood"] == "all"
        elif row == "random":
            assert data["classes_per_batch"] is None and m["topology_neighbourhood"] == "random"
        else:
            assert data["classes_per_batch"] == int(row[2:]) and m["topology_neighbourhood"] == "all"
            assert data["classes_per_batch"] <= 100 and data["classes_per_batch"] <= data["batch_size"]


def test_tadml_pairs_grid_is_table_5():
    spec, variants = paper_grid("tadml_pairs")
    assert len(variants) == 20
    assert_unique(variants)
    assert sorted(cell(spec, v) for v in variants) == sorted((p, m) for p in TABLE5 for m in TABLE5_METHODS)
    for v in variants:
        config = resolve(spec, "paper", v)
        pair, method = cell(spec, v)
        m = config["method"]
        assert tuple(n["arch"] for n in config["networks"]) == TABLE5[pair][0]
        assert m["name"] == TABLE5_METHODS[method]
        if method == "ADML":
            assert m["topology_weight"] == 0 and m["adv_weight"] > 0 and m["js_weight"] > 0
        if method == "TADML":
            assert m["topology_weight"] > 0 and m["adv_weight"] > 0 and m["js_weight"] > 0
        if method in ("ADML", "TADML"):
            assert m["disc_structure"] == "128fc-256fc-128fc" and m["disc_input"] == "fc"
        assert config["data"]["name"] == "cifar100"


def test_tadml_disc_points_are_table_2():
    spec = load_sweep("tadml_disc")
    assert spec.sampler == "tpe"
    points = spec.points_for("paper")
    assert len(points) == 6
    structures = [v["method.disc_structure"] for v in disc_variants(spec, "paper")]
    assert structures == list(TABLE2)
    for structure, point in zip(TABLE2, points):
        assert structure_point(structure) == point
    for variant in disc_variants(spec, "paper"):
        m = resolve(spec, "paper", variant)["method"]
        assert m["disc_structure"] == variant["method.disc_structure"]
        assert m["topology_weight"] == 0 and m["adv_weight"] > 0 and m["disc_input"] == "fc"


def test_tadml_disc_ablation_variants_agree():
    from search_spaces.grid import ablation_variants

    spec = load_sweep("tadml_disc")
    assert [v["method.disc_structure"] for v in ablation_variants(spec, "paper")] == list(TABLE2)


def test_tadml_disc_search_stays_in_depth_and_width_bounds():
    spec = load_sweep("tadml_disc")
    space = SpaceFunction(spec.space_for("paper"), spec.space_function)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    depths = set()
    for _ in range(40):
        trial = study.ask()
        derived = space(trial)
        widths = parse_structure(derived["method.disc_structure"])
        depths.add(len(widths))
        assert len(widths) in (1, 2, 3, 4) and all(64 <= w <= 512 for w in widths)
        resolve(spec, "paper", {**trial.params, **derived})
        study.tell(trial, 0.0)
    assert len(depths) >= 3


# -- every preset's configurations resolve ----------------------------------------------
def preset_variants(spec, preset):
    if spec.sampler == "grid":
        return grid_variants(spec.space_for(preset), spec.variants_for(preset))
    if spec.space_function:
        return disc_variants(spec, preset)
    return spec.points_for(preset)


@pytest.mark.parametrize("name", TADML_SWEEPS)
def test_every_variant_of_every_preset_resolves(name):
    spec = load_sweep(name)
    assert {"paper", "smoke"} <= set(spec.presets)
    for preset in [p for p in spec.presets if not p.startswith("evidence")]:   # those: tests/test_evidence.py
        variants = preset_variants(spec, preset)
        assert variants, f"{name}/{preset} has nothing to run"
        assert_unique(variants)
        for variant in variants:
            config = resolve(spec, preset, variant)
            assert config["method"]["name"] in ("tadml", "adml", "dml", "independent")
            if preset == "smoke":
                assert config["data"]["name"] == "digits"
                cpb = config["data"]["classes_per_batch"]
                assert cpb is None or cpb <= 10, "digits has 10 classes"
            else:
                assert config["data"]["name"] in ("cifar10", "cifar100")
                assert config["optim"]["lr"] == 0.1 and config["train"]["epochs"] == 200
                assert config["optim"]["milestones"] == [100, 150] and config["data"]["batch_size"] == 128


@pytest.mark.parametrize("name", ("tadml_weights", "tadml_disc"))
def test_searches_sample_valid_configs(name):
    spec = load_sweep(name)
    for preset in spec.presets:
        space = SpaceFunction(spec.space_for(preset), spec.space_function)
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(10):
            trial = study.ask()
            derived = space(trial) or {}
            resolve(spec, preset, {**trial.params, **derived})
            study.tell(trial, 0.0)


# -- the paper numbers --------------------------------------------------------------------
def test_paper_values_table_1():
    values = load_sweep("tadml_loss").paper["values"]
    assert set(values) == set(TABLE1)
    for row, ((c10, c100), _) in TABLE1.items():
        assert values[row] == {"CIFAR10": c10, "CIFAR100": c100}, row


def test_paper_values_tables_2_and_3():
    assert load_sweep("tadml_disc").paper["values"] == TABLE2
    assert load_sweep("tadml_disc").paper["values"]["128fc-256fc-128fc"] == 72.51
    assert load_sweep("tadml_input").paper["values"] == TABLE3


def test_paper_values_table_4():
    values = load_sweep("tadml_k").paper["values"]
    assert set(values) == set(TABLE4)
    for row, (r32, r110) in TABLE4.items():
        assert values[row] == {"ResNet32": r32, "ResNet110": r110}, row
    assert values["K=16"]["ResNet32"] == 72.84


def test_paper_values_table_5():
    values = load_sweep("tadml_pairs").paper["values"]
    assert set(values) == set(TABLE5)
    for pair, (_, numbers) in TABLE5.items():
        assert values[pair] == numbers, pair
    assert values["R32-R32"]["TADML"] == [73.07, 73.13]


# -- the weight search ------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["paper", "smoke"])
def test_tadml_weights_space(preset):
    spec = load_sweep("tadml_weights")
    assert spec.sampler == "tpe"
    space = spec.space_for(preset)
    for key in ("method.js_weight", "method.adv_weight", "method.topology_weight"):
        p = space[key]
        assert (p.type, p.low, p.high, p.log) == ("float", 0.01, 10.0, True), key
    t = space["method.temperature"]
    assert (t.type, t.low, t.high) == ("float", 1.0, 8.0)
    lr = space["method.disc_lr"]
    assert lr.type == "float" and lr.log and lr.low < 1e-4 < lr.high
    k = space["data.classes_per_batch"]
    assert k.type == "categorical" and all(c <= (100 if preset == "paper" else 10) for c in k.choices)
    # the default recipe is evaluated first
    point = spec.points_for(preset)[0]
    assert (point["method.js_weight"], point["method.adv_weight"], point["method.topology_weight"],
            point["method.temperature"], point["method.disc_lr"]) == (1.0, 1.0, 1.0, 1.0, 1e-4)
