"""Typed config: loading, overrides, validation errors that name the field, round trip."""
import copy
import os

import pytest
import yaml

from distill.atomic_write import write_yaml
from distill.config import (DataConfig, ExperimentConfig, NetworkConfig, apply_overrides,
                            config_from_dict, config_to_dict, load_config)
from distill.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "configs", "dml_digits.yaml")


def base():
    return {
        "method": {"name": "dml", "temperature": 2.0},
        "networks": [{"name": "net0", "arch": "resnet8"}, {"name": "net1", "arch": "resnet8"}],
        "data": {"name": "digits", "batch_size": 32},
        "optim": {"lr": 0.05, "schedule": "cosine"},
        "train": {"epochs": 3, "threads": 1},
        "seed": 7,
        "output_dir": "runs/test",
    }


def error_for(raw) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    assert "\n" not in str(info.value), "the message must be a single line"
    return info.value


# -- loading -------------------------------------------------------------------
def test_base_config_is_typed():
    config = config_from_dict(base())
    assert isinstance(config, ExperimentConfig)
    assert config.method.name == "dml"
    assert config.method.params.temperature == 2.0
    assert config.method.params.kl_weight == 1.0           # default filled in
    assert [n.name for n in config.networks] == ["net0", "net1"]
    assert all(isinstance(n, NetworkConfig) for n in config.networks)
    assert isinstance(config.data, DataConfig)
    assert config.data.batch_size == 32 and config.data.val_fraction == 0.1
    assert config.train.epochs == 3 and config.train.threads == 1
    assert config.optim.schedule == "cosine"
    assert config.seed == 7
    assert config.teacher is None


def test_config_from_dict_does_not_mutate_its_input():
    raw = base()
    snapshot = copy.deepcopy(raw)
    config_from_dict(raw)
    assert raw == snapshot


def test_integer_is_accepted_for_float_field():
    raw = base()
    raw["method"]["temperature"] = 4
    value = config_from_dict(raw).method.params.temperature
    assert value == 4.0 and isinstance(value, float)


def test_load_example_config_file():
    config = load_config(EXAMPLE)
    assert config.method.name == "dml"
    assert len(config.networks) == 2
    assert config.data.name == "digits"


def test_load_config_with_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(base()))
    config = load_config(str(path), ["method.temperature=4", "networks.1.arch=resnet14",
                                     "train.epochs=5", "data.augment=false"])
    assert config.method.params.temperature == 4.0
    assert config.networks[0].arch == "resnet8"
    assert config.networks[1].arch == "resnet14"
    assert config.train.epochs == 5
    assert config.data.augment is False


def test_apply_overrides_strings_and_pairs_without_mutating_input():
    raw = base()
    snapshot = copy.deepcopy(raw)
    out = apply_overrides(raw, ["method.temperature=4", ("networks.1.arch", "resnet20"),
                                "optim.milestones=[2, 3]", "teacher.arch=resnet32"])
    assert raw == snapshot
    assert out["method"]["temperature"] == 4
    assert out["networks"][1] == {"name": "net1", "arch": "resnet20"}
    assert out["optim"]["milestones"] == [2, 3]
    assert out["teacher"] == {"arch": "resnet32"}       # intermediate mappings are created


def test_override_value_is_parsed_as_yaml():
    # (PyYAML follows YAML 1.1: "1e-3" without a dot is a string; "1.0e-3" is a float)
    out = apply_overrides(base(), ["train.channels_last=false", "optim.lr=1.0e-3", "output_dir=x=y"])
    assert out["train"]["channels_last"] is False
    assert out["optim"]["lr"] == pytest.approx(1e-3)
    assert out["output_dir"] == "x=y"                   # split on the first '=' only


@pytest.mark.parametrize("override, field", [
    ("method.temperature", "--set"),          # no '='
    ("networks.5.arch=resnet8", "networks.5"),  # index out of range
    ("networks.x.arch=resnet8", "networks.x"),  # not an index
    ("seed.value=3", "seed.value"),             # inside a plain value
])
def test_bad_overrides_name_the_key(override, field):
    with pytest.raises(ConfigError) as info:
        apply_overrides(base(), [override])
    assert info.value.field == field
    assert str(info.value).startswith(field)


# -- validation errors ---------------------------------------------------------
def test_unknown_method_lists_allowed_methods():
    raw = base()
    raw["method"]["name"] = "dmll"
    err = error_for(raw)
    assert err.field == "method.name"
    assert "dmll" in str(err)
    for name in ("dml", "kd", "independent"):
        assert name in str(err)


def test_missing_method_name():
    raw = base()
    del raw["method"]["name"]
    err = error_for(raw)
    assert err.field == "method.name"
    assert "dml" in str(err)


def test_unknown_model_names_the_network():
    raw = apply_overrides(base(), ["networks.1.arch=resnet19"])
    err = error_for(raw)
    assert err.field == "networks[1].arch"
    assert "resnet19" in str(err) and "resnet20" in str(err)


def test_unknown_teacher_model():
    raw = apply_overrides(base(), ["method.name=kd", "method.temperature=4",
                                   "teacher={name: t, arch: resnet1000, checkpoint: x.pt}"])
    raw["networks"] = raw["networks"][:1]
    err = error_for(raw)
    assert err.field == "teacher.arch"


def test_unknown_data_set_lists_allowed():
    raw = base()
    raw["data"]["name"] = "imagenet21k"
    err = error_for(raw)
    assert err.field == "data.name"
    assert "cifar10" in str(err) and "digits" in str(err)


@pytest.mark.parametrize("epochs", [-1, 0])
def test_nonpositive_epochs(epochs):
    raw = base()
    raw["train"]["epochs"] = epochs
    err = error_for(raw)
    assert err.field == "train.epochs"
    assert str(epochs) in str(err)


@pytest.mark.parametrize("temperature", [0, 0.0, -1.5])
def test_temperature_must_be_positive(temperature):
    raw = base()
    raw["method"]["temperature"] = temperature
    err = error_for(raw)
    assert err.field == "method.temperature"


def test_temperature_zero_via_override(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(base()))
    with pytest.raises(ConfigError) as info:
        load_config(str(path), ["method.temperature=0"])
    assert info.value.field == "method.temperature"


@pytest.mark.parametrize("section, key, value, field", [
    ("train", "epochs", "ten", "train.epochs"),
    ("train", "epochs", 2.5, "train.epochs"),
    ("train", "epochs", True, "train.epochs"),
    ("train", "channels_last", "yes", "train.channels_last"),
    ("optim", "lr", "fast", "optim.lr"),
    ("optim", "milestones", 5, "optim.milestones"),
    ("data", "batch_size", 0, "data.batch_size"),
    ("data", "val_fraction", 0.9, "data.val_fraction"),
    ("optim", "schedule", "linear", "optim.schedule"),
    ("train", "amp", "fp8", "train.amp"),
])
def test_wrong_type_or_range_names_the_field(section, key, value, field):
    raw = base()
    raw[section][key] = value
    err = error_for(raw)
    assert err.field == field
    assert str(err).startswith(field + ": ")


def test_wrong_type_string_for_epochs_message():
    raw = base()
    raw["train"]["epochs"] = "ten"
    err = error_for(raw)
    assert "integer" in str(err) and "ten" in str(err)


def test_choice_error_lists_allowed_values():
    raw = base()
    raw["optim"]["schedule"] = "linear"
    err = error_for(raw)
    assert "step" in str(err) and "cosine" in str(err)


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r.__setitem__("epochs", 3), "epochs"),                    # top level
    (lambda r: r["train"].__setitem__("epoch", 3), "train.epoch"),
    (lambda r: r["method"].__setitem__("alpha", 0.5), "method.alpha"),     # dml has no alpha
    (lambda r: r["networks"][0].__setitem__("depth", 8), "networks[0].depth"),
])
def test_unknown_field(mutate, field):
    raw = base()
    mutate(raw)
    err = error_for(raw)
    assert err.field == field
    assert "unknown field" in str(err)


def test_missing_networks():
    raw = base()
    del raw["networks"]
    assert error_for(raw).field == "networks"


def test_network_missing_arch():
    raw = base()
    del raw["networks"][0]["arch"]
    assert error_for(raw).field == "networks[0].arch"


def test_duplicate_network_names():
    raw = base()
    raw["networks"][1]["name"] = "net0"
    assert error_for(raw).field == "networks"


def test_dml_needs_two_networks():
    raw = base()
    raw["networks"] = raw["networks"][:1]
    assert error_for(raw).field == "networks"


def test_kd_needs_teacher_checkpoint():
    raw = base()
    raw["method"] = {"name": "kd"}
    assert error_for(raw).field == "teacher.checkpoint"


def test_not_a_mapping():
    assert error_for([1, 2]).field == "config"


# -- files -----------------------------------------------------------------------
def test_malformed_yaml_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("method: {name: dml\nnetworks: [\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert info.value.field == "--config"
    assert "bad.yaml" in str(info.value) and "YAML" in str(info.value)


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_yaml_that_is_not_a_mapping(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert info.value.field == "--config"


def test_missing_file(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert info.value.field == "--config"
    assert "nope.yaml" in str(info.value)


def test_folder_or_binary_instead_of_yaml(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path))
    assert info.value.field == "--config"
    binary = tmp_path / "weights.pt"
    binary.write_bytes(b"\xff\xfe\x00\x81binary")
    with pytest.raises(ConfigError) as info:
        load_config(str(binary))
    assert info.value.field == "--config"


# -- round trip ------------------------------------------------------------------
@pytest.mark.parametrize("raw", [
    base(),
    {"method": {"name": "independent"}, "networks": [{"name": "a", "arch": "wrn_16_2"}]},
    {"method": {"name": "kd", "temperature": 3.0, "alpha": 0.5},
     "networks": [{"name": "student", "arch": "resnet8"}],
     "teacher": {"name": "teacher", "arch": "resnet32", "checkpoint": "runs/t/checkpoint#net0"},
     "data": {"name": "cifar100", "root": "/data", "train_limit": 100},
     "optim": {"milestones": [30, 60], "nesterov": True},
     "train": {"amp": "bf16", "channels_last": False, "device": "cpu"}},
])
def test_round_trip(raw, tmp_path):
    config = config_from_dict(raw)
    as_dict = config_to_dict(config)
    again = config_from_dict(as_dict)
    assert again == config
    assert config_to_dict(again) == as_dict
    # and through a YAML file, as the trainer writes config.yaml
    path = str(tmp_path / "config.yaml")
    write_yaml(path, as_dict)
    assert load_config(path) == config


def test_round_trip_dict_is_plain_data():
    as_dict = config_to_dict(config_from_dict(base()))
    assert as_dict["method"] == {"name": "dml", "temperature": 2.0, "ce_weight": 1.0, "kl_weight": 1.0}
    assert "teacher" not in as_dict
    assert yaml.safe_load(yaml.safe_dump(as_dict)) == as_dict
