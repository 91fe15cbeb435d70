"""End-to-end training on scikit-learn's digits with tiny ResNets: learning,
kill-and-resume with identical numbers, seeding, bf16 / channels_last, divergence."""
import json
import math
import os

import pytest
import torch
import yaml

from distill.checkpoint import CHECKPOINT_FILE, load_checkpoint
from distill.config import config_from_dict, config_to_dict, load_config
from distill.trainer import Trainer, TrainingDiverged

# wall-clock fields differ between runs by nature; everything else must match exactly
TIMING_KEYS = {"epoch_seconds", "images_per_second"}


def make_config(epochs=2, method=None, networks=None, data=None, optim=None, train=None, seed=0, teacher=None):
    raw = {
        "method": method or {"name": "dml", "temperature": 2.0},
        "networks": networks or [{"name": "net0", "arch": "resnet8"}, {"name": "net1", "arch": "resnet8"}],
        "data": {"name": "digits", "batch_size": 64, "train_limit": 256, **(data or {})},
        "optim": {"lr": 0.05, "momentum": 0.9, "schedule": "cosine", **(optim or {})},
        "train": {"epochs": epochs, "threads": 1, "device": "cpu", **(train or {})},
        "seed": seed,
    }
    if teacher:
        raw["teacher"] = teacher
    return config_from_dict(raw)


def without_timing(history):
    return [{k: v for k, v in m.items() if k not in TIMING_KEYS} for m in history]


def read_metrics(folder):
    with open(os.path.join(folder, "metrics.jsonl")) as fh:
        return [json.loads(line) for line in fh if line.strip()]


class Killed(Exception):
    """Stands in for the process being killed after a checkpoint was written."""


# -- (a) learning ------------------------------------------------------------------
@pytest.mark.slow
def test_dml_on_digits_learns(tmp_path):
    config = make_config(epochs=3, data={"train_limit": None}, method={"name": "dml", "temperature": 1.0})
    trainer = Trainer(config, output_dir=str(tmp_path / "run"))
    history = trainer.fit()
    assert [m["epoch"] for m in history] == [1, 2, 3]
    last = history[-1]
    for net in ("net0", "net1"):
        assert last[f"val_acc.{net}"] > 60.0, f"{net} reached only {last[f'val_acc.{net}']:.1f}% (chance 10%)"
        assert last[f"best_val_acc.{net}"] >= last[f"val_acc.{net}"]
        assert 0.0 <= last[f"test_acc.{net}"] <= 100.0
        assert f"test_acc.{net}" not in history[0]     # test only reported at the end
        for term in (f"loss.ce.{net}", f"loss.kl.{net}"):
            assert term in last and math.isfinite(last[term])
    assert history[-1]["loss.total"] < history[0]["loss.total"]
    assert last["val_acc.mean"] == pytest.approx((last["val_acc.net0"] + last["val_acc.net1"]) / 2)
    assert last["val_acc.max"] == max(last["val_acc.net0"], last["val_acc.net1"])
    # cosine schedule: logged lr is the epoch's starting lr
    assert history[0]["lr"] == pytest.approx(0.05)
    assert history[1]["lr"] < history[0]["lr"]


def test_outputs_written_each_epoch(tmp_path):
    out = str(tmp_path / "run")
    config = make_config(epochs=2)
    seen = []

    def on_epoch(metrics, checkpoint_dir):
        assert os.path.isfile(os.path.join(checkpoint_dir, CHECKPOINT_FILE))
        assert load_checkpoint(checkpoint_dir)["epoch"] == metrics["epoch"]
        assert len(read_metrics(out)) == metrics["epoch"]
        seen.append(metrics["epoch"])

    history = Trainer(config, output_dir=out).fit(on_epoch)
    assert seen == [1, 2]
    assert read_metrics(out) == history
    assert load_config(os.path.join(out, "config.yaml")) == config
    state = load_checkpoint(os.path.join(out, "checkpoint"))
    assert state["epoch"] == 2
    assert set(state["networks"]) == {"net0", "net1"}
    assert state["config"] == config_to_dict(config)


# -- (b) kill and resume -------------------------------------------------------------
@pytest.mark.slow
def test_kill_and_resume_reproduces_uninterrupted_run(tmp_path):
    # step schedule with a milestone inside the run, momentum and augmentation: every piece
    # of state (schedule, optimizer buffers, data RNG) must survive the checkpoint
    def config():
        return make_config(epochs=4, optim={"schedule": "step", "milestones": [3], "gamma": 0.1},
                           data={"augment": True}, seed=3)

    dir_a, dir_b = str(tmp_path / "A"), str(tmp_path / "B")
    trainer_a = Trainer(config(), output_dir=dir_a)
    history_a = trainer_a.fit()
    assert len(history_a) == 4

    def kill_at_2(metrics, checkpoint_dir):
        if metrics["epoch"] == 2:
            raise Killed()

    with pytest.raises(Killed):
        Trainer(config(), output_dir=dir_b).fit(kill_at_2)
    assert len(read_metrics(dir_b)) == 2
    assert load_checkpoint(os.path.join(dir_b, "checkpoint"))["epoch"] == 2

    trainer_b = Trainer(config(), output_dir=dir_b)
    trainer_b.resume(os.path.join(dir_b, "checkpoint"))
    assert trainer_b.epoch == 2
    history_b = trainer_b.fit()

    assert [m["epoch"] for m in history_b] == [1, 2, 3, 4]
    assert without_timing(history_b) == without_timing(history_a)
    for m in history_a:
        for key in ("val_acc.net0", "val_acc.net1", "val_loss.net0", "val_loss.net1", "loss.total"):
            assert key in m
    assert history_a[3]["lr"] == pytest.approx(0.005)     # the milestone was applied after resume
    assert without_timing(read_metrics(dir_b)) == without_timing(history_a)
    for name, net in trainer_a.networks.items():
        for (key, a), b in zip(net.state_dict().items(), trainer_b.networks[name].state_dict().values()):
            assert torch.equal(a, b), f"{name}.{key} differs after resume"


def test_resume_accepts_checkpoint_file_path(tmp_path):
    out = str(tmp_path / "run")
    Trainer(make_config(epochs=1), output_dir=out).fit()
    trainer = Trainer(make_config(epochs=2), output_dir=out)
    trainer.resume(os.path.join(out, "checkpoint", CHECKPOINT_FILE))
    assert trainer.epoch == 1
    history = trainer.fit()
    assert [m["epoch"] for m in history] == [1, 2]


# -- (c) seeding --------------------------------------------------------------------
def test_same_seed_gives_identical_metrics(tmp_path):
    runs = [Trainer(make_config(epochs=2, seed=11), output_dir=str(tmp_path / f"r{i}")).fit() for i in range(2)]
    assert without_timing(runs[0]) == without_timing(runs[1])
    other = Trainer(make_config(epochs=2, seed=12), output_dir=str(tmp_path / "other")).fit()
    assert without_timing(other) != without_timing(runs[0])


# -- (d) precision and memory format ---------------------------------------------------
def test_bf16_autocast_runs_on_cpu(tmp_path):
    trainer = Trainer(make_config(epochs=1, train={"amp": "bf16"}), output_dir=str(tmp_path / "bf16"))
    assert trainer.amp_dtype == torch.bfloat16
    seen = []
    handle = trainer.networks["net0"].conv1.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    history = trainer.fit()
    handle.remove()
    assert seen and all(d == torch.bfloat16 for d in seen), "autocast was not in effect"
    m = history[-1]
    for key in ("loss.total", "val_loss.net0", "val_loss.net1"):
        assert math.isfinite(m[key])
    assert all(p.dtype == torch.float32 for p in trainer.networks["net0"].parameters())


def test_amp_off_keeps_float32(tmp_path):
    trainer = Trainer(make_config(epochs=1, train={"amp": "off"}), output_dir=str(tmp_path / "fp32"))
    assert trainer.amp_dtype is None
    seen = []
    trainer.networks["net0"].conv1.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    trainer.fit()
    assert seen and all(d == torch.float32 for d in seen)


@pytest.mark.parametrize("channels_last", [True, False])
def test_channels_last_on_and_off_both_train(tmp_path, channels_last):
    trainer = Trainer(make_config(epochs=1, train={"channels_last": channels_last}),
                      output_dir=str(tmp_path / "run"))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    weight = trainer.networks["net0"].conv1.weight
    assert weight.is_contiguous(memory_format=fmt)
    history = trainer.fit()
    assert math.isfinite(history[-1]["loss.total"])
    assert 0.0 <= history[-1]["val_acc.net0"] <= 100.0
    assert trainer.networks["net0"].stages[0][0].conv1.weight.is_contiguous(memory_format=fmt)


# -- KD with a teacher taken from a checkpoint ----------------------------------------------
def test_kd_with_teacher_from_checkpoint(tmp_path):
    peers = str(tmp_path / "peers")
    Trainer(make_config(epochs=1), output_dir=peers).fit()
    ckpt = os.path.join(peers, "checkpoint")
    config = make_config(epochs=1, method={"name": "kd", "temperature": 4.0, "alpha": 0.9},
                         networks=[{"name": "student", "arch": "resnet8"}],
                         teacher={"name": "teacher", "arch": "resnet8", "checkpoint": ckpt + "#net1"})
    trainer = Trainer(config, output_dir=str(tmp_path / "kd"))
    expected = load_checkpoint(ckpt)["networks"]["net1"]
    for key, value in trainer.teacher.state_dict().items():
        assert torch.equal(value, expected[key])
    assert not any(p.requires_grad for p in trainer.teacher.parameters())
    before = {k: v.clone() for k, v in trainer.teacher.state_dict().items()}
    history = trainer.fit()
    assert {"loss.ce.student", "loss.kd.student"} <= set(history[-1])
    for key, value in trainer.teacher.state_dict().items():
        assert torch.equal(value, before[key]), f"teacher {key} changed during training"


# -- (e) divergence -------------------------------------------------------------------
def test_huge_learning_rate_raises_training_diverged(tmp_path):
    out = str(tmp_path / "run")
    trainer = Trainer(make_config(epochs=2, optim={"lr": 1e30}), output_dir=out)
    with pytest.raises(TrainingDiverged, match="epoch 1"):
        trainer.fit()
    assert not os.path.exists(os.path.join(out, "checkpoint", CHECKPOINT_FILE))


def test_nan_loss_raises_training_diverged(tmp_path, monkeypatch):
    out = str(tmp_path / "run")
    trainer = Trainer(make_config(epochs=3), output_dir=out)
    real_losses = trainer.method.losses

    def nan_in_epoch_2(batch, outputs, teacher_output):
        terms = real_losses(batch, outputs, teacher_output)
        if trainer.epoch == 1:
            terms["kl.net1"] = terms["kl.net1"] * float("nan")
        return terms

    monkeypatch.setattr(trainer.method, "losses", nan_in_epoch_2)
    with pytest.raises(TrainingDiverged) as info:
        trainer.fit()
    assert "epoch 2" in str(info.value) and "kl.net1" in str(info.value)
    # the diverged epoch is neither checkpointed nor logged
    assert load_checkpoint(os.path.join(out, "checkpoint"))["epoch"] == 1
    assert [m["epoch"] for m in read_metrics(out)] == [1]
    with open(os.path.join(out, "config.yaml")) as fh:
        assert yaml.safe_load(fh)["method"]["name"] == "dml"
