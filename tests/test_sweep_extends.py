"""Sweep files inherit shared recipes (``extends:``): the shipped sweeps resolve to
exactly the trial configs they had before they moved onto recipes
(tests/fixtures/make_resolved_sweeps.py wrote tests/fixtures/resolved_sweeps.json
from the sweeps as they were), and the merge rules hold."""
import importlib.util
import json
import os

import pytest
import yaml

from distill.errors import ConfigError
from search_spaces import list_sweeps, load_sweep
from search_spaces import sweep_spec
from search_spaces.sweep_spec import load_recipe, merge_sweep, recipe_names, sweep_names

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "resolved_sweeps.json")
REPO = os.path.dirname(HERE)


def fixture_module():
    spec = importlib.util.spec_from_file_location("make_resolved_sweeps",
                                                  os.path.join(HERE, "fixtures", "make_resolved_sweeps.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stored():
    with open(FIXTURE) as fh:
        return json.load(fh)


@pytest.mark.parametrize("name", fixture_module().SWEEPS)
def test_shipped_sweep_resolves_to_the_same_trials_as_before_recipes(stored, name):
    """Raw configs (base, preset overrides, variant overrides) before engine defaults: equal
    raw configs resolve to equal engine configs, whatever defaults the engine gains."""
    now = json.loads(json.dumps(fixture_module().resolved_sweep(name)))
    before = stored[name]
    # what came later and changes no trial of the stored presets: the papers' claims and the
    # evidence presets on real data (tests/test_evidence.py)
    added = now.keys() - before.keys()
    assert added <= {"claims"}, added
    now = {k: v for k, v in now.items() if k not in added}
    now["presets"] = {p: v for p, v in now["presets"].items() if not p.startswith("evidence")}
    now["preset_names"] = [p for p in now["preset_names"] if not p.startswith("evidence")]
    assert now.keys() == before.keys()
    for key in now:
        if key == "table" and now[key] is not None:
            # fields the table layout gained later (paper_layout, row_value, not_run) keep their defaults
            assert {k: v for k, v in now[key].items() if k in before[key]} == before[key], key
            assert all(not now[key][k] for k in now[key] if k not in before[key]), key
        elif key != "presets":
            assert now[key] == before[key], key
    assert list(now["presets"]) == list(before["presets"])
    for preset in now["presets"]:
        for key, value in now["presets"][preset].items():
            assert value == before["presets"][preset][key], f"{name} {preset} {key}"


def test_shipped_sweeps_use_the_recipes():
    assert {"cifar_recipe", "digits_smoke"} <= set(recipe_names())
    for name in fixture_module().SWEEPS:
        with open(sweep_spec.sweep_path(name)) as fh:
            assert "extends" in yaml.safe_load(fh), name
    seed = load_recipe("cifar_recipe")["base"]
    assert seed == {"data": {"name": "cifar100", "root": "data", "batch_size": 128},
                    "optim": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5.0e-4, "schedule": "step",
                              "milestones": [100, 150], "gamma": 0.1},
                    "train": {"epochs": 200}}


def test_every_recipe_resolves():
    for name in recipe_names():
        assert "extends" not in load_recipe(name)


def test_recipes_are_not_sweeps():
    assert set(recipe_names()).isdisjoint(sweep_names())
    with pytest.raises(ConfigError) as err:
        load_sweep("recipes/cifar_recipe")
    assert err.value.field == "sweep"


def test_list_excludes_recipes(tmp_path, monkeypatch):
    write(tmp_path / "recipes" / "shared.yaml", {"base": {"method": {"name": "kd"}}, "metric": "m"})
    write(tmp_path / "one.yaml", {"description": "one sweep", "extends": "shared", "presets": {"smoke": {}}})
    use_dirs(monkeypatch, tmp_path)
    assert list_sweeps() == {"one": "one sweep"}
    assert sweep_names() == ["one"] and recipe_names() == ["shared"]


def test_recipes_are_packaged():
    with open(os.path.join(REPO, "pyproject.toml")) as fh:
        text = fh.read()
    assert 'search_spaces = ["*.yaml", "recipes/*.yaml"]' in text


# merge rules, on recipes in a temporary folder

def write(path, body):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return str(path)


def use_dirs(monkeypatch, sweep_dir, recipe_dir=None):
    monkeypatch.setattr(sweep_spec, "SWEEP_DIR", str(sweep_dir))
    monkeypatch.setattr(sweep_spec, "RECIPE_DIR", str(recipe_dir or sweep_dir / "recipes"))


RECIPE = {
    "base": {
        "method": {"name": "kd", "temperature": 4.0, "alpha": 0.9},
        "teacher": {"name": "teacher", "arch": "resnet110", "checkpoint": "t.pt"},
        "networks": [{"name": "student", "arch": "resnet32"}, {"name": "peer", "arch": "resnet32"}],
        "data": {"name": "cifar100", "root": "data", "batch_size": 128},
        "optim": {"lr": 0.1, "schedule": "step", "milestones": [100, 150]},
    },
    "presets": {"paper": {"trials": 3},
                "smoke": {"trials": 2, "set": {"data.name": "digits", "data.root": None, "train.epochs": 3,
                                               "method": {"name": "kd", "temperature": 2.0}}}},
    "space": {"method.temperature": {"type": "float", "low": 1.0, "high": 20.0, "log": True}},
    "points": [{"method.temperature": 4.0}, {"method.temperature": 8.0}],
    "metric": "val_acc.student",
    "paper": {"source": "recipe", "values": {"a": 1}},
}


@pytest.fixture
def recipes(tmp_path, monkeypatch):
    write(tmp_path / "recipes" / "kd.yaml", RECIPE)
    use_dirs(monkeypatch, tmp_path)
    return tmp_path


def sweep(tmp, body, name="child"):
    return load_sweep(write(tmp / f"{name}.yaml", body))


def test_nested_mappings_merge_and_the_child_wins(recipes):
    spec = sweep(recipes, {"extends": "kd", "base": {"method": {"temperature": 2.0}, "data": {"batch_size": 64}},
                           "space": {"method.temperature": {"high": 8.0}}, "paper": {"values": {"b": 2}}})
    assert spec.base["method"] == {"name": "kd", "temperature": 2.0, "alpha": 0.9}
    assert spec.base["data"] == {"name": "cifar100", "root": "data", "batch_size": 64}
    assert (spec.space["method.temperature"].low, spec.space["method.temperature"].high) == (1.0, 8.0)
    assert spec.paper == {"source": "recipe", "values": {"a": 1, "b": 2}}
    assert spec.name == "child" and spec.metric == "val_acc.student"
    assert not hasattr(spec, "extends")


def test_lists_and_scalars_replace(recipes):
    spec = sweep(recipes, {"extends": ["kd"], "base": {"networks": [{"name": "student", "arch": "resnet8"}],
                                                       "optim": {"milestones": [30]}},
                           "points": [{"method.temperature": 1.0}], "metric": ["val_acc.student", "params.student"],
                           "mode": ["max", "min"]})
    assert spec.base["networks"] == [{"name": "student", "arch": "resnet8"}]
    assert spec.base["optim"] == {"lr": 0.1, "schedule": "step", "milestones": [30]}
    assert spec.points == [{"method.temperature": 1.0}]
    assert spec.metrics == ["val_acc.student", "params.student"]


def test_presets_merge_per_name_and_set_per_dotted_key(recipes):
    spec = sweep(recipes, {"extends": "kd", "presets": {
        "smoke": {"set": {"train.epochs": 4, "networks.0.arch": "resnet8", "method": {"name": "dml"}}},
        "big": {"trials": 9}}})
    assert list(spec.presets) == ["paper", "smoke", "big"]
    assert spec.presets["paper"].trials == 3
    assert spec.presets["smoke"].trials == 2
    # a dotted key's value is one override: a mapping replaces the recipe's mapping, not merged into it
    assert spec.presets["smoke"].set == {"data.name": "digits", "data.root": None, "train.epochs": 4,
                                         "method": {"name": "dml"}, "networks.0.arch": "resnet8"}
    assert spec.presets["big"].trials == 9


def test_variant_rows_merge_per_dotted_key(tmp_path, monkeypatch):
    write(tmp_path / "recipes" / "grid.yaml", {
        "base": {}, "metric": "m", "sampler": "grid", "presets": {"smoke": {}},
        "variants": {"algo": {"DML": {"method": {"name": "dml", "temperature": 1.0}}, "KD": {}}}})
    use_dirs(monkeypatch, tmp_path)
    spec = sweep(tmp_path, {"extends": "grid", "variants": {"algo": {"DML": {"method": {"name": "dml"}},
                                                                      "TADML": {"method": {"name": "tadml"}}}}})
    assert spec.variants == {"algo": {"DML": {"method": {"name": "dml"}}, "KD": {}, "TADML": {"method": {"name": "tadml"}}}}


def test_null_in_the_child_stays_null(recipes):
    spec = sweep(recipes, {"extends": "kd", "base": {"teacher": None, "data": {"root": None}},
                           "presets": {"paper": {"set": {"data.root": None}}}})
    assert spec.base["teacher"] is None
    assert spec.base["data"]["root"] is None and spec.base["data"]["name"] == "cifar100"
    assert spec.presets["paper"].set == {"data.root": None}


def test_recipes_chain_and_apply_in_order(recipes):
    write(recipes / "recipes" / "pair.yaml", {"extends": "kd", "base": {"method": {"alpha": 0.5}},
                                             "presets": {"smoke": {"set": {"train.epochs": 5}}}})
    write(recipes / "recipes" / "fast.yaml", {"base": {"method": {"alpha": 0.7}, "optim": {"lr": 0.05}}})
    spec = sweep(recipes, {"extends": ["pair", "fast"], "base": {"optim": {"schedule": "cosine"}}})
    assert spec.base["method"] == {"name": "kd", "temperature": 4.0, "alpha": 0.7}   # the later recipe wins
    assert spec.base["optim"] == {"lr": 0.05, "schedule": "cosine", "milestones": [100, 150]}
    assert spec.presets["smoke"].set["train.epochs"] == 5 and spec.presets["smoke"].set["data.name"] == "digits"
    spec = sweep(recipes, {"extends": ["fast", "pair"]}, name="other")
    assert spec.base["method"]["alpha"] == 0.5
    assert load_recipe("pair")["base"]["teacher"]["arch"] == "resnet110"


def test_a_recipe_reached_twice_is_not_a_cycle(recipes):
    write(recipes / "recipes" / "left.yaml", {"extends": "kd"})
    write(recipes / "recipes" / "right.yaml", {"extends": "kd", "base": {"method": {"alpha": 0.3}}})
    assert sweep(recipes, {"extends": ["left", "right"]}).base["method"]["alpha"] == 0.3


def test_unknown_recipe_is_one_line_naming_extends_with_the_allowed_names(recipes):
    write(recipes / "recipes" / "other.yaml", {"base": {}})
    with pytest.raises(ConfigError) as err:
        sweep(recipes, {"extends": ["kd", "no_such_recipe"], "presets": {"smoke": {}}})
    assert err.value.field == "extends"
    assert "\n" not in str(err.value)
    assert "'no_such_recipe'" in str(err.value) and "allowed: kd, other" in str(err.value)


def test_unknown_shipped_recipe_lists_the_shipped_ones(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_sweep(write(tmp_path / "s.yaml", {"extends": "cifar", "metric": "m", "presets": {"smoke": {}}}))
    assert err.value.field == "extends" and "cifar_recipe" in str(err.value)


@pytest.mark.parametrize("cycle", [{"a": "a"}, {"a": "b", "b": "a"}, {"a": ["kd", "b"], "b": "c", "c": ["a"]}])
def test_a_cycle_is_an_error_naming_extends(recipes, cycle):
    for name, parents in cycle.items():
        write(recipes / "recipes" / f"{name}.yaml", {"extends": parents})
    with pytest.raises(ConfigError) as err:
        sweep(recipes, {"extends": "a", "presets": {"smoke": {}}})
    assert err.value.field == "extends" and "cycle" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("extends", [3, [1], {"kd": 1}])
def test_extends_must_name_recipes(recipes, extends):
    with pytest.raises(ConfigError) as err:
        sweep(recipes, {"extends": extends, "presets": {"smoke": {}}})
    assert err.value.field == "extends"


def test_the_merged_mapping_is_validated_as_a_sweep(recipes):
    with pytest.raises(ConfigError) as err:   # the recipe has presets, but sampler is checked on the merge
        sweep(recipes, {"extends": "kd", "sampler": "bayes"})
    assert err.value.field == "sampler"
    write(recipes / "recipes" / "bad.yaml", {"nonsense": 1})
    with pytest.raises(ConfigError) as err:
        sweep(recipes, {"extends": ["kd", "bad"]}, name="bad_child")
    assert err.value.field == "nonsense"


def test_merge_leaves_its_inputs_alone():
    parent = {"base": {"method": {"name": "kd"}}, "presets": {"smoke": {"set": {"a": 1}}}}
    child = {"base": {"method": {"alpha": 0.5}}, "presets": {"smoke": {"set": {"b": 2}}}}
    merged = merge_sweep(parent, child)
    merged["base"]["method"]["name"] = "changed"
    assert parent == {"base": {"method": {"name": "kd"}}, "presets": {"smoke": {"set": {"a": 1}}}}
    assert child == {"base": {"method": {"alpha": 0.5}}, "presets": {"smoke": {"set": {"b": 2}}}}
    assert merge_sweep(parent, child)["presets"]["smoke"]["set"] == {"a": 1, "b": 2}
