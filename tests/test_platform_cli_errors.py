"""Bad input to the driver commands: one line naming the field and what is
allowed, exit code 2, no traceback, and no experiment folder left behind."""
import os

import pytest

from sweep_runner import cli, cli_in_process


def assert_usage_error(run, *words):
    assert run.returncode == 2, run.stdout + run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("args, words", [
    (["no_such_sweep"], ["sweep", "dml_smoke"]),
    (["dml_smoke", "--preset", "huge"], ["--preset", "smoke"]),
    (["dml_smoke", "--set", "train.epochs=-1"], ["train.epochs", ">= 1"]),
    (["dml_smoke", "--set", "method.temperature=0"], ["method.temperature", "> 0"]),
    (["dml_smoke", "--set", "networks.0.arch=resnet9"], ["networks[0].arch", "resnet8"]),
    (["dml_smoke", "--set", "method.name=dmll"], ["method.name", "dml"]),
    (["dml_smoke", "--set", "train.epoch=3"], ["train.epoch", "epochs"]),
    (["dml_smoke", "--set", "data.name=cifar10", "--set", "data.root=/nonexistent"], ["data.root"]),
    (["dml_smoke", "--set", "noequals"], ["--set", "KEY=VALUE"]),
    (["dml_smoke", "--trials", "0"], ["--trials"]),
    (["dml_smoke", "--resume"], ["--resume", "no experiment"]),
])
def test_sweep_bad_input(tmp_path, args, words):
    storage = tmp_path / "exp"
    # in this process: the same main() ending before Ray, without a Python and torch start per case
    # (test_bad_input_in_a_real_process runs one case as a user's separate process)
    run = cli_in_process("platform.sweep", *args, "--storage", str(storage))
    assert_usage_error(run, *words)
    assert not storage.exists() or not os.listdir(storage)


def test_bad_input_in_a_real_process(tmp_path):
    storage = tmp_path / "exp"
    run = cli("platform.sweep", "dml_smoke", "--set", "networks.0.arch=resnet9", "--storage", str(storage),
              timeout=120)
    assert_usage_error(run, "networks[0].arch", "resnet8")
    assert not storage.exists() or not os.listdir(storage)


def test_export_of_a_folder_that_is_no_experiment(tmp_path):
    assert_usage_error(cli("platform.export", str(tmp_path), timeout=120), "EXPERIMENT")


def test_export_top_must_be_positive(tmp_path):
    assert_usage_error(cli("platform.export", str(tmp_path), "--top", "0", timeout=120), "--top")


def test_sweep_list_has_one_line_per_sweep():
    run = cli("platform.sweep", "--list", timeout=120)
    assert run.returncode == 0
    names = [line.split()[0] for line in run.stdout.splitlines() if line.strip()]
    assert {"dml_smoke", "kd_temperature"} <= set(names)
