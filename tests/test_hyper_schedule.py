"""Hyperparameters by epoch (``schedule:``): values hold from the epoch they name, the learning
rate's epoch schedule keeps multiplying the scheduled base, a resumed run continues identically,
and continuing another run's checkpoint with new values (population-based training's exploit
step) is the same run as one whose schedule changes those values at that epoch."""
import math

import pytest

from distill.config import config_from_dict
from distill.errors import ConfigError
from distill.trainer import Trainer

TIMING = ("epoch_seconds", "images_per_second")


def raw(epochs=3, schedule=None, temperature=4.0, lr=0.05, method="dml"):
    out = {"method": {"name": method, "temperature": temperature},
           "networks": [{"name": "net0", "arch": "resnet8"}, {"name": "net1", "arch": "resnet8"}],
           "data": {"name": "digits", "batch_size": 64, "train_limit": 192},
           "optim": {"lr": lr, "schedule": "cosine"},
           "train": {"epochs": epochs, "threads": 1, "device": "cpu"}, "seed": 2}
    if schedule:
        out["schedule"] = schedule
    return out


class Killed(Exception):
    pass


def fit_until(trainer, epochs):
    """Train, then stop after ``epochs`` epochs (its checkpoint written) as a killed run would."""
    def stop(metrics, _):
        if metrics["epoch"] == epochs:
            raise Killed
    try:
        trainer.fit(stop)
    except Killed:
        pass


def strip(history):
    return [{k: v for k, v in m.items() if k not in TIMING and not k.startswith("hp.")} for m in history]


def test_values_hold_from_their_epoch_and_the_cosine_factor_scales_the_scheduled_base(tmp_path):
    schedule = {"method.temperature": {0: 4.0, 2: 1.5}, "optim.lr": {1: 0.02}}
    history = Trainer(config_from_dict(raw(schedule=schedule)), output_dir=str(tmp_path)).fit()
    cosine = [(1 + math.cos(math.pi * e / 3)) / 2 for e in range(3)]   # CosineAnnealingLR, T_max 3
    assert [m["lr"] for m in history] == pytest.approx([0.05 * cosine[0], 0.02 * cosine[1], 0.02 * cosine[2]])
    assert [m["hp.method.temperature"] for m in history] == [4.0, 4.0, 1.5]
    assert [m["hp.optim.lr"] for m in history] == [0.05, 0.02, 0.02]


def test_a_resumed_scheduled_run_continues_identically(tmp_path):
    schedule = {"method.temperature": {2: 1.5}, "optim.lr": {1: 0.02}}
    straight = Trainer(config_from_dict(raw(schedule=schedule)), output_dir=str(tmp_path / "a")).fit()
    fit_until(Trainer(config_from_dict(raw(schedule=schedule)), output_dir=str(tmp_path / "b")), 2)
    resumed = Trainer(config_from_dict(raw(schedule=schedule)), output_dir=str(tmp_path / "b"))
    resumed.resume(str(tmp_path / "b" / "checkpoint"))
    assert strip(resumed.fit()) == strip(straight)


def test_continuing_a_donors_checkpoint_with_new_values_is_the_scheduled_run(tmp_path):
    """What PBT does (a donor's checkpoint, a trial with new values) equals the exported schedule."""
    fit_until(Trainer(config_from_dict(raw()), output_dir=str(tmp_path / "donor")), 1)
    clone = Trainer(config_from_dict(raw(temperature=2.0, lr=0.02)), output_dir=str(tmp_path / "clone"))
    clone.resume(str(tmp_path / "donor" / "checkpoint"))
    cloned = clone.fit()
    schedule = {"method.temperature": {1: 2.0}, "optim.lr": {1: 0.02}}
    rerun = Trainer(config_from_dict(raw(schedule=schedule)), output_dir=str(tmp_path / "rerun")).fit()
    assert strip(cloned) == strip(rerun)
    assert cloned[1]["lr"] == pytest.approx(0.02 * (1 + math.cos(math.pi / 3)) / 2)


@pytest.mark.parametrize("schedule, field, text", [
    ({"method.nothing": {0: 1.0}}, "schedule", "allowed: optim.lr, method.temperature"),
    ({"optim.momentum": {0: 0.5}}, "schedule", "cannot change during a run"),
    ({"method.temperature": {3: 2.0}}, "schedule.method.temperature", "allowed: 0 to 2"),
    ({"method.temperature": {"x": 2.0}}, "schedule.method.temperature", "is not an epoch"),
    ({"method.temperature": {0: 0.0}}, "schedule.method.temperature", "must be > 0"),
])
def test_a_bad_schedule_is_one_line_naming_the_field(schedule, field, text):
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw(schedule=schedule))
    assert err.value.field == field and text in str(err.value)


def test_a_weight_cannot_cross_zero_and_a_build_time_field_cannot_change():
    tadml = raw(method="tadml", schedule={"method.adv_weight": {1: 0.5}})
    tadml["method"] = {"name": "tadml", "adv_weight": 0.0}   # no discriminator is built for weight 0
    with pytest.raises(ConfigError) as err:
        config_from_dict(tadml)
    assert err.value.field == "schedule.method.adv_weight" and "cannot cross 0" in str(err.value)
    tadml["schedule"] = {"method.disc_beta1": {1: 0.9}}   # Adam's betas are set when its optimizer is made
    with pytest.raises(ConfigError) as err:
        config_from_dict(tadml)
    assert err.value.field == "schedule" and "disc_beta1" in str(err.value) and "method.disc_lr" in str(err.value)
