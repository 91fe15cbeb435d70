"""Bad input to the self-distillation methods fails at validation, before any
Ray work, with one line naming the field: exits (and SAD, ONE) on a model
without stages, a ONE branch count below 2, a same-class pair sampler on
batches that cannot hold pairs, SCD stages that do not exist."""
import os

import pytest
import yaml

from distill.config import config_from_dict
from distill.errors import ConfigError
from distill.validation import validate_run
from sweep_runner import cli_in_process
from test_method_checks import StagelessNet  # noqa: F401  (registers test_stageless_mlp)
from test_platform_cli_errors import assert_usage_error


def raw(method, arch="resnet8", **data):
    return {"method": method, "networks": [{"name": "net0", "arch": arch}],
            "data": {"name": "digits", **data}, "train": {"epochs": 1, "device": "cpu"}}


def field_of(raw_config):
    with pytest.raises(ConfigError) as err:
        validate_run(config_from_dict(raw_config), check_files=False)
    assert "\n" not in str(err.value)
    return err.value.field, str(err.value)


@pytest.mark.parametrize("name", ["byot", "scd", "sad", "one"])
def test_stage_methods_need_a_staged_model(name):
    field, message = field_of(raw({"name": name}, arch="test_stageless_mlp"))
    assert field == "networks[0].arch" and "stage" in message and "resnet18" in message


def test_one_needs_two_branches():
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw({"name": "one", "branches": 1}))
    assert err.value.field == "method.branches" and ">= 2" in str(err.value)


def test_pairs_need_shuffled_batches_of_two_or_more():
    field, message = field_of(raw({"name": "cs_kd"}, classes_per_batch=4))
    assert field == "data.classes_per_batch" and "same-class" in message
    field, _ = field_of(raw({"name": "cs_kd"}, batch_size=1))
    assert field == "data.batch_size"


@pytest.mark.parametrize("stages, words", [([5], "does not exist"), ([0], "two or more"), ([1, -2], "distinct")])
def test_scd_stages_must_exist(stages, words):
    field, message = field_of(raw({"name": "scd", "stages": stages}))
    assert field == "method.stages" and words in message


def test_good_configs_pass():
    for method in ({"name": "scd", "stages": [0, -1], "direction": "progressive"}, {"name": "one", "branches": 2},
                   {"name": "cs_kd"}, {"name": "byot"}, {"name": "sad"}, {"name": "ddgsd"}):
        validate_run(config_from_dict(raw(method)), check_files=False)


def _sweep_file(tmp_path, method, **data):
    sweep = {"description": "bad input", "extends": ["digits_smoke"], "sampler": "grid", "metric": "val_acc.net0",
             "base": {**raw(method, **data), "optim": {"lr": 0.05}},
             "presets": {"smoke": {"set": {"train.epochs": 1}}}}
    path = tmp_path / "bad_sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return str(path)


@pytest.mark.parametrize("method, data, words", [
    ({"name": "one", "branches": 1}, {}, ["method.branches", ">= 2"]),
    ({"name": "cs_kd"}, {"classes_per_batch": 4}, ["data.classes_per_batch"]),
])
def test_driver_stops_before_ray(tmp_path, method, data, words):
    path = _sweep_file(tmp_path, method, **data)
    storage = tmp_path / "exp"
    run = cli_in_process("platform.sweep", path, "--preset", "smoke", "--storage", str(storage))
    assert_usage_error(run, *words)
    assert "Ray" not in run.stdout and (not storage.exists() or not os.listdir(storage))


def test_self_distill_ablation_checks_every_row_before_ray(tmp_path):
    storage = tmp_path / "exp"
    run = cli_in_process("platform.ablate", "self_distill", "--preset", "smoke", "--seeds", "1", "--storage",
                         str(storage), "--set", "data.classes_per_batch=4")
    assert_usage_error(run, "data.classes_per_batch", "cs_kd")
    assert not storage.exists() or not os.listdir(storage)


@pytest.mark.parametrize("method", [{"name": "byot"}, {"name": "scd"}, {"name": "one", "branches": 2},
                                    {"name": "independent"}])
def test_reported_metrics_are_what_the_trainer_reports(method, tmp_path):
    """The names the driver checks a sweep's metric against, known before any model is built,
    are exactly the names the trainer's evaluators report."""
    from distill.trainer import Trainer
    from distill.validation import reported_metrics

    config = config_from_dict({**raw(method), "data": {"name": "digits", "train_limit": 64}})
    trainer = Trainer(config, output_dir=str(tmp_path))
    evaluated = {k for k in trainer.metric_directions()}
    declared = set(reported_metrics(config, validate_run(config, check_files=False)))
    assert evaluated == {m for m in declared if m.startswith(("val_", "test_", "best_val_"))} - {
        "val_acc.mean", "val_acc.max", "best_val_acc.max"}
    if method["name"] == "one":
        assert "val_acc.net0.branch2" in declared and "val_acc.net0.branch3" not in declared


def test_sweep_metric_must_be_reported_by_every_row(tmp_path):
    sweep = {"description": "exit metric on a row without exits", "extends": ["digits_smoke"], "sampler": "grid",
             "metric": "val_acc.net0.ensemble", "base": raw({"name": "independent"}),
             "variants": {"algorithm": {"BYOT": {"method": {"name": "byot"}}, "Baseline": {}}},
             "presets": {"smoke": {}}}
    path = tmp_path / "exit_metric.yaml"
    path.write_text(yaml.safe_dump(sweep))
    storage = tmp_path / "exp"
    run = cli_in_process("platform.sweep", str(path), "--preset", "smoke", "--storage", str(storage))
    assert_usage_error(run, "metric", "val_acc.net0.ensemble", "independent", "val_acc.net0")
    assert not storage.exists() or not os.listdir(storage)
