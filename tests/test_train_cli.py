"""``python -m distill.train`` as users run it: bad input ends with exit code 2 and
one line on stderr naming the field (no traceback); a good tiny run writes its files."""
import json
import os
import subprocess
import sys

import pytest
import yaml

from distill.checkpoint import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "configs", "dml_digits.yaml")
TIMEOUT = 240


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _start(args, cwd=ROOT):
    return subprocess.Popen([sys.executable, "-m", "distill.train", *args], cwd=cwd, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc):
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"timed out; stderr: {err[-2000:]}")
    return proc.returncode, out, err


def _tiny(raw_overrides=None):
    raw = {
        "method": {"name": "dml", "temperature": 2.0},
        "networks": [{"name": "net0", "arch": "resnet8"}, {"name": "net1", "arch": "resnet8"}],
        "data": {"name": "digits", "batch_size": 64, "train_limit": 128},
        "optim": {"lr": 0.05, "schedule": "cosine"},
        "train": {"epochs": 1, "threads": 1, "device": "cpu"},
        "seed": 0,
    }
    for section, values in (raw_overrides or {}).items():
        if isinstance(values, dict) and isinstance(raw.get(section), dict):
            raw[section] = {**raw[section], **values}
        else:
            raw[section] = values
    return raw


# name -> (argument list, given a tmp folder; the field the message must name; words it must contain)
BAD_INPUTS = {
    "unknown_method": (lambda d: ["--config", _write(d, _tiny({"method": {"name": "dmlx"}}))],
                       "method.name", ["dml", "kd", "independent"]),
    "unknown_model": (lambda d: ["--config", EXAMPLE, "--set", "networks.1.arch=resnet19"],
                      "networks[1].arch", ["resnet20", "wrn_28_10"]),
    "negative_epochs": (lambda d: ["--config", _write(d, _tiny({"train": {"epochs": -3}}))],
                        "train.epochs", []),
    "temperature_zero_set": (lambda d: ["--config", EXAMPLE, "--set", "method.temperature=0"],
                             "method.temperature", []),
    "malformed_yaml": (lambda d: ["--config", _write_text(d, "method: {name: dml\nnetworks: [\n")],
                       "--config", ["YAML"]),
    "missing_config": (lambda d: ["--config", os.path.join(d, "absent.yaml")], "--config", ["absent.yaml"]),
    "missing_cifar": (lambda d: ["--config", _write(d, _tiny({"data": {"name": "cifar10", "root": os.path.join(d, "no_cifar")}})),
                                 "--output", os.path.join(d, "out")],
                      "data.root", ["cifar-10-batches-py"]),
}


def _write(folder, raw, name="config.yaml"):
    path = os.path.join(folder, name)
    with open(path, "w") as fh:
        yaml.safe_dump(raw, fh)
    return path


def _write_text(folder, text, name="config.yaml"):
    path = os.path.join(folder, name)
    with open(path, "w") as fh:
        fh.write(text)
    return path


@pytest.fixture(scope="module")
def bad_results(tmp_path_factory):
    """Start every bad-input run at once (each pays the torch import), then collect."""
    procs = {}
    for name, (make_args, _, _) in BAD_INPUTS.items():
        folder = str(tmp_path_factory.mktemp(name))
        procs[name] = (_start(make_args(folder)), folder)
    return {name: (*_finish(proc), folder) for name, (proc, folder) in procs.items()}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line(bad_results, case):
    code, out, err, folder = bad_results[case]
    _, field, mentions = BAD_INPUTS[case]
    assert "Traceback" not in err and "Traceback" not in out, err
    assert code == 2, f"exit code {code}; stderr: {err}"
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"stderr must be exactly one line, got {lines!r}"
    line = lines[0]
    assert line.startswith("python -m distill.train: error: ")
    assert f"{field}: " in line, f"{field!r} not named in {line!r}"
    for word in mentions:
        assert word in line
    assert not os.path.exists(os.path.join(folder, "out", "checkpoint"))


@pytest.mark.slow
def test_good_tiny_run_and_resume(tmp_path):
    config = _write(str(tmp_path), _tiny())
    out_dir = str(tmp_path / "run")
    code, out, err = _finish(_start(["--config", config, "--output", out_dir]))
    assert code == 0, err
    assert "Traceback" not in err
    assert "epoch 1/1" in out
    for rel in ("config.yaml", "metrics.jsonl", os.path.join("checkpoint", "checkpoint.pt")):
        assert os.path.isfile(os.path.join(out_dir, rel)), rel
    with open(os.path.join(out_dir, "metrics.jsonl")) as fh:
        metrics = [json.loads(line) for line in fh]
    assert [m["epoch"] for m in metrics] == [1]
    assert 0.0 <= metrics[0]["val_acc.net0"] <= 100.0
    assert "test_acc.net0" in metrics[0]
    with open(os.path.join(out_dir, "config.yaml")) as fh:
        written = yaml.safe_load(fh)
    assert written["method"] == {"name": "dml", "temperature": 2.0, "ce_weight": 1.0, "kl_weight": 1.0}
    assert written["train"]["epochs"] == 1
    assert load_checkpoint(os.path.join(out_dir, "checkpoint"))["epoch"] == 1

    # the written config.yaml runs unchanged; --resume continues from the checkpoint
    code, out, err = _finish(_start(["--config", os.path.join(out_dir, "config.yaml"), "--output", out_dir,
                                     "--set", "train.epochs=2", "--resume"]))
    assert code == 0, err
    assert "resumed from epoch 1" in out
    assert "epoch 2/2" in out and "epoch 1/2" not in out
    with open(os.path.join(out_dir, "metrics.jsonl")) as fh:
        assert [json.loads(line)["epoch"] for line in fh] == [1, 2]
