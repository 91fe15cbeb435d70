"""Ablation rows that take their values from an exported config (``from_export``): the values
and the schedule they name, the folder form, and one line naming the field for every mistake."""
import os

import pytest
import yaml

from distill.errors import ConfigError
from platform.experiment_run import resolved_variants
from search_spaces.exported_row import expand_rows, row_values
from search_spaces.grid import grid_variants

EXPORTED = {"method": {"name": "kd", "temperature": 6.5, "alpha": 0.3}, "optim": {"lr": 0.02},
            "schedule": {"method.alpha": {0: 0.3, 2: 0.36}}, "seed": 7, "train": {"epochs": 6}}
BASE = {"data": {"name": "digits", "root": None}, "method": {"name": "kd", "temperature": 4.0, "alpha": 0.9},
        "teacher": {"name": "teacher", "arch": "resnet14", "epochs": 1}, "networks": [{"name": "student", "arch": "resnet8"}],
        "train": {"epochs": 4}}


def export(folder, config=EXPORTED, name="rank1_abc.yaml"):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    return path


def test_a_row_takes_the_named_values_and_their_schedule_and_nothing_else(tmp_path):
    path = export(str(tmp_path / "best"))
    values = row_values("w", {"file": path, "keys": ["method.temperature", "method.alpha"]})
    assert values == {"method.temperature": 6.5, "method.alpha": 0.3, "schedule": {"method.alpha": {0: 0.3, 2: 0.36}}}
    # the folder platform.export --out wrote stands for its rank-1 file
    assert row_values("w", {"file": str(tmp_path / "best"), "keys": ["method.alpha"]})["method.alpha"] == 0.3
    # a config without a schedule gives fixed values only
    fixed = export(str(tmp_path / "fixed"), {**EXPORTED, "schedule": {}})
    assert row_values("w", {"file": fixed, "keys": ["method.alpha", "optim.lr"]}) == {"method.alpha": 0.3, "optim.lr": 0.02}


def test_rows_resolve_to_trial_configs_with_the_schedule_and_the_ablation_base(tmp_path):
    path = export(str(tmp_path / "best"))
    named = {"values": {"recipe": {}, "PBT": {"from_export": {"file": path, "keys": ["method.alpha", "method.temperature"]},
                                              "train.epochs": 5}}}
    variants = grid_variants({}, named)
    configs = {v["search.values"]: c for v, c in zip(variants, resolved_variants(BASE, variants))}
    assert configs["recipe"]["method"]["alpha"] == 0.9 and not configs["recipe"]["schedule"]
    pbt = configs["PBT"]
    assert pbt["method"]["alpha"] == 0.3 and pbt["method"]["temperature"] == 6.5
    assert pbt["schedule"] == {"method.alpha": {"0": 0.3, "2": 0.36}}   # epochs as the config stores them
    # everything else is the ablation's: its data and networks, its seed, the row's own epochs
    assert pbt["train"]["epochs"] == 5 and pbt["seed"] != 7 and pbt["optim"]["lr"] != 0.02


@pytest.mark.parametrize("spec, field, words", [
    ({"file": "missing.yaml", "keys": ["method.alpha"]}, "v.file", "platform.export"),
    ({"file": "FOLDER", "keys": ["method.alpha"]}, "v.file", "holds 2 rank1_*.yaml files"),
    ({"file": "FILE", "keys": ["method.beta"]}, "v.keys", "'method.beta' is not set in"),
    ({"file": "FILE", "keys": ["method.temperature"]}, "v.keys", "schedules method.alpha too"),
    ({"file": "FILE", "keys": []}, "v.keys", "non-empty list"),
    ({"file": "FILE", "keys": ["method.alpha"], "other": 1}, "v", "{file: PATH, keys: [dotted keys]}"),
    ("FILE", "v", "{file: PATH, keys: [dotted keys]}"),
])
def test_each_mistake_is_one_line_naming_the_field(tmp_path, spec, field, words):
    path = export(str(tmp_path / "one"))
    export(str(tmp_path / "two"), name="rank1_a.yaml")
    export(str(tmp_path / "two"), name="rank1_b.yaml")
    subst = {"FILE": path, "FOLDER": str(tmp_path / "two")}
    if isinstance(spec, dict):
        spec = {k: subst.get(v, v) if isinstance(v, str) else v for k, v in spec.items()}
        spec["file"] = str(tmp_path / spec["file"]) if spec["file"] == "missing.yaml" else spec["file"]
    else:
        spec = subst[spec]
    with pytest.raises(ConfigError) as err:
        row_values("v", spec)
    assert err.value.field == field and words in str(err.value)


def test_an_ablation_whose_export_is_missing_exits_2_before_ray(tmp_path):
    from sweep_runner import cli_in_process

    run = cli_in_process("platform.ablate", "kd_schedule", "--preset", "smoke", "--seeds", "1",
                         "--storage", str(tmp_path / "exp"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "variants.values.best fixed (kd_temperature).from_export.file: no exported config at" in run.stderr
    assert not (tmp_path / "exp").exists() or not os.listdir(tmp_path / "exp")


def test_rows_without_from_export_are_unchanged():
    named = {"a": {"x": {"method.alpha": 0.5}, "y": None}}
    assert expand_rows(named) == {"a": {"x": {"method.alpha": 0.5}, "y": {}}}
