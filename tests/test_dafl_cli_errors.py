"""DAFL's bad input at the driver: one line naming the field, exit 2, no traceback, before any
Ray work and with nothing written: no teacher, a generator size the teacher cannot take, a
data-free selection metric on a method that generates nothing."""
import os

import yaml

from sweep_runner import cli_in_process
from test_platform_cli_errors import assert_usage_error


def run_sweep(tmp_path, *args):
    storage = tmp_path / "exp"
    run = cli_in_process("platform.sweep", *args, "--storage", str(storage))
    return run, storage


def test_dafl_without_a_teacher(tmp_path):
    run, storage = run_sweep(tmp_path, "dafl_search", "--set", "teacher=null")
    assert_usage_error(run, "teacher", "dafl")
    assert not storage.exists() or not os.listdir(storage)


def test_generator_size_against_the_teachers_input(tmp_path):
    run, storage = run_sweep(tmp_path, "dafl_search", "--set", "method.image_size=16")
    assert_usage_error(run, "method.image_size", "32")
    assert not storage.exists() or not os.listdir(storage)


def test_data_free_metric_on_a_method_that_generates_nothing(tmp_path):
    sweep = tmp_path / "kd_agreement.yaml"
    sweep.write_text(yaml.safe_dump({
        "description": "KD selected on a data-free score it does not report",
        "base": {"method": {"name": "kd"}, "networks": [{"name": "net0", "arch": "resnet8"}],
                 "teacher": {"name": "teacher", "arch": "resnet14", "epochs": 1},
                 "data": {"name": "digits"}, "train": {"epochs": 1}},
        "presets": {"smoke": {"trials": 1}}, "metric": "val_agreement.net0", "mode": "max"}))
    run, storage = run_sweep(tmp_path, str(sweep))
    assert_usage_error(run, "metric", "val_agreement.net0", "val_acc.net0")
    assert not storage.exists() or not os.listdir(storage)
