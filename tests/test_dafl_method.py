"""DAFL as a method of the engine: behaviour on digits, a training split that is never
read, the data-free score, the transfer-set baseline, and bad input."""
import math

import pytest
import torch

from distill.config import config_from_dict
from distill.data import registry as data_registry
from distill.data.registry import DATA_INFO, DATASETS, DataInfo, ImageSet
from distill.errors import ConfigError
from distill.trainer import Trainer
from distill.validation import validate_run


def dafl_config(teacher_file, **method):
    return {
        "method": {"name": "dafl", "iterations_per_epoch": 8, "agreement_samples": 256, "generator_width": 16,
                   "latent_dim": 16, **method},
        "networks": [{"name": "net0", "arch": "resnet8"}],
        "teacher": {"arch": "resnet14", "checkpoint": teacher_file},
        "data": {"name": "digits", "batch_size": 64},
        "optim": {"name": "adam", "lr": 2e-3, "weight_decay": 0.0, "schedule": "constant"},
        "train": {"epochs": 2, "threads": 1, "device": "cpu"},
        "seed": 3,
    }


def trainer_for(raw, tmp_path):
    return Trainer(config_from_dict(raw), output_dir=str(tmp_path))


@torch.no_grad()
def generated_statistics(trainer, n=512):
    """Class histogram (teacher argmax) of a generated batch, its distance to uniform,
    and the teacher's mean confidence on it."""
    trainer.method.eval()
    images = trainer.method.sample_images(n, torch.Generator().manual_seed(0))
    p = torch.softmax(trainer.teacher(images), dim=1)
    histogram = torch.bincount(p.argmax(1), minlength=p.shape[1]).double() / n
    uniform = torch.full_like(histogram, 1.0 / p.shape[1])
    return float((histogram - uniform).abs().sum()), float(p.max(1).values.mean())


def test_generator_learns_balanced_confident_images(digits_teacher, tmp_path):
    raw = dafl_config(digits_teacher, iterations_per_epoch=25, generator_lr=0.05)
    raw["train"]["epochs"] = 1
    trainer = trainer_for(raw, tmp_path)
    before_gap, before_confidence = generated_statistics(trainer)
    trainer.fit()
    after_gap, after_confidence = generated_statistics(trainer)
    assert after_gap < before_gap
    assert after_confidence > before_confidence


class UnreadableImageSet(ImageSet):
    """A training split that fails the test if anything reads its images or labels."""

    def __getattribute__(self, name):
        if name in ("images", "labels", "extras", "subset", "to"):
            raise AssertionError(f"the training split's {name} was read in a data-free run")
        return super().__getattribute__(name)

    def __len__(self):
        raise AssertionError("the training split's size was read in a data-free run")


def test_training_split_is_never_read(digits_teacher, tmp_path, monkeypatch):
    real_load = data_registry.load_splits

    def load_without_train(data_cfg):
        splits = real_load(data_cfg)
        tripwire = UnreadableImageSet.__new__(UnreadableImageSet)
        splits.train = tripwire
        return splits

    import distill.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "load_splits", load_without_train)
    raw = dafl_config(digits_teacher)
    raw["train"]["epochs"] = 1
    trainer = trainer_for(raw, tmp_path)
    assert trainer.train_batches.images is None and trainer.train_batches.labels is None
    history = trainer.fit()
    assert history[-1]["val_acc.net0"] >= 0.0 and "test_acc.teacher" in history[-1]


def test_data_free_score_is_reported_and_deterministic(digits_teacher, tmp_path):
    raw = dafl_config(digits_teacher)
    trainer = trainer_for(raw, tmp_path / "a")
    history = trainer.fit()
    assert {"val_agreement.net0", "best_val_agreement.net0", "test_agreement.net0"} <= set(history[-1])
    again = trainer_for(raw, tmp_path / "b").fit()
    assert [m["val_agreement.net0"] for m in history] == [m["val_agreement.net0"] for m in again]
    assert [m["val_acc.net0"] for m in history] == [m["val_acc.net0"] for m in again]


def test_normal_noise_inputs_train_only_the_student(digits_teacher, tmp_path):
    raw = dafl_config(digits_teacher, inputs="normal_noise")
    trainer = trainer_for(raw, tmp_path)
    assert not list(trainer.method.parameters())
    terms = trainer.train_epoch()
    assert set(terms) == {"kd.net0", "total"}


def test_every_generator_term_is_logged_and_weighed(digits_teacher, tmp_path):
    trainer = trainer_for(dafl_config(digits_teacher), tmp_path)
    terms = trainer.train_epoch()
    assert {"one_hot", "activation", "entropy", "kd.net0"} <= set(terms)
    assert terms["activation"] < 0 and -1.0 - 1e-6 <= terms["entropy"] / 5.0 <= 0.0
    off = trainer_for(dafl_config(digits_teacher, activation_weight=0.0, entropy_weight=0.0), tmp_path / "off")
    assert "activation" not in off.train_epoch() and off.method.teacher_taps() == ("logits",)


# -- the transfer set (alternative data) ----------------------------------------------------------
@pytest.fixture(scope="module")
def shifted_digits():
    """A stand-in transfer set of digits' own shape: digits' images, inverted."""
    name = "test_inverted_digits"
    if name not in DATASETS:
        def load(root=None):
            train, test, meta = DATASETS.get("digits")(root)
            invert = lambda s: ImageSet(255 - s.images, s.labels)  # noqa: E731
            return invert(train), invert(test), meta
        DATASETS.register(name)(load)
        DATA_INFO.register(name)(DataInfo(num_classes=10, in_channels=1, image_size=(8, 8)))
    return name


def kd_config(teacher_file, **data):
    return {"method": {"name": "kd", "alpha": 1.0, "temperature": 1.0}, "networks": [{"name": "net0", "arch": "resnet8"}],
            "teacher": {"arch": "resnet14", "checkpoint": teacher_file},
            "data": {"name": "digits", "batch_size": 64, **data}, "train": {"epochs": 1, "threads": 1, "device": "cpu"}}


def test_transfer_set_feeds_the_training_batches(digits_teacher, shifted_digits, tmp_path):
    trainer = trainer_for(kd_config(digits_teacher, transfer=shifted_digits), tmp_path)
    transfer_train, _, _ = DATASETS.get(shifted_digits)(None)
    assert torch.equal(trainer.train_batches.images.cpu(), transfer_train.images)
    own = trainer_for(kd_config(digits_teacher), tmp_path / "own")
    assert torch.equal(own.val_set.images.cpu(), trainer.val_set.images.cpu())   # judged on the same split
    assert math.isfinite(trainer.train_epoch()["kd.net0"])


def test_transfer_set_refuses_a_method_reading_labels(digits_teacher, shifted_digits):
    raw = kd_config(digits_teacher, transfer=shifted_digits)
    raw["method"]["alpha"] = 0.9
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw)
    assert err.value.field == "data.transfer" and "labels" in str(err.value)


def test_transfer_set_of_another_shape_is_refused(digits_teacher):
    with pytest.raises(ConfigError) as err:
        config_from_dict(kd_config(digits_teacher, transfer="usps"))
    assert err.value.field == "data.transfer" and "16x16" in str(err.value)


# -- bad input -------------------------------------------------------------------------------------
def test_dafl_without_a_teacher_names_the_field(digits_teacher):
    raw = dafl_config(digits_teacher)
    del raw["teacher"]
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw)
    assert err.value.field == "teacher"


def test_generator_size_must_fit_the_teacher(digits_teacher):
    with pytest.raises(ConfigError) as err:
        config_from_dict(dafl_config(digits_teacher, image_size=32))
    assert err.value.field == "method.image_size" and "8x8" in str(err.value)


def test_data_free_metric_on_a_method_that_generates_nothing(digits_teacher):
    config = config_from_dict(kd_config(digits_teacher))
    with pytest.raises(ConfigError) as err:
        validate_run(config, check_files=False, metrics=["val_agreement.net0"])
    assert err.value.field == "metric" and "val_agreement.net0" in str(err.value)
