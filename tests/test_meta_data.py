"""The meta-data baseline (Lopes et al. 2017, top-layer variant): its losses and the
teacher's statistics against float64 values derived without the implementation, the
teacher store recording the statistics, the reconstruction and the distillation by
behaviour, and the one-line errors."""
import dataclasses
import json
import os

import pytest
import torch

from distill.activation_stats import STATS_FILE, compute_stats, load_stats, save_stats
from distill.config import config_from_dict, config_to_dict
from distill.data.batches import Normalizer
from distill.errors import ConfigError
from distill.losses.meta_data import soft_cross_entropy, top_layer_reconstruction_loss
from distill.methods.context import context_for
from distill.methods.meta_data import MetaData
from distill.trainer import Trainer
from distill.validation import validate_run

VALUES = json.load(open(os.path.join(os.path.dirname(__file__), "fixtures", "meta_data_values.json")))


def t64(x):
    return torch.tensor(x, dtype=torch.float64)


def test_reconstruction_loss_matches_float64_fixture():
    v = VALUES["reconstruction"]
    got = top_layer_reconstruction_loss(t64(v["scaled"]), t64(v["target"]))
    assert got.dtype == torch.float64
    assert float(got) == pytest.approx(v["value"], rel=1e-12)


def test_soft_cross_entropy_matches_float64_fixture():
    v = VALUES["soft_ce"]
    got = soft_cross_entropy(t64(v["student"]), t64(v["teacher"]), v["temperature"])
    assert float(got) == pytest.approx(v["value"], rel=1e-12)


class Logits(torch.nn.Module):
    """A 'model' whose logits are given per image index (the images carry the index)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.logits[x.flatten(1)[:, 0].round().long()]


def test_statistics_match_float64_fixture():
    v = VALUES["stats"]
    logits, labels = t64(v["logits"]), torch.tensor(v["labels"])
    images = torch.arange(len(labels), dtype=torch.uint8).view(-1, 1, 1, 1)
    identity = Normalizer((0.0,), (1.0 / 255.0,), "cpu", False)   # pixels back to the index
    stats = compute_stats(Logits(logits), images, labels, identity, num_classes=3, batch_size=7)
    for key in ("mean", "std", "cov", "count"):
        assert torch.allclose(stats[key], t64(v[key]), rtol=1e-10, atol=1e-12), key


def method_with_stats(tmp_path, stats, factor="reference", num_classes=3):
    checkpoint = tmp_path / "checkpoint.pt"
    checkpoint.write_bytes(b"")
    save_stats(stats, str(tmp_path / STATS_FILE))
    teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, num_classes))
    ctx = context_for({"net0": torch.nn.Linear(4, num_classes)}, num_classes, teacher=teacher, input_shape=(1, 2, 2))
    ctx = dataclasses.replace(ctx, teacher_checkpoint=str(checkpoint), input_mean=(0.5,), input_std=(0.25,))
    params = MetaData.Params(covariance_factor=factor, temperature=VALUES["soft_ce"]["temperature"])
    return MetaData(params, ctx)


@pytest.mark.parametrize("factor", ["reference", "cholesky"])
def test_draws_follow_the_reference_or_cholesky(tmp_path, factor):
    v = VALUES["stats"]
    stats = {"layer": "logits", **{k: t64(v[k]) for k in ("mean", "std", "cov", "count")}}
    method = method_with_stats(tmp_path, stats, factor)
    g = t64(VALUES["draws"]["g"])
    draw = method.mean[0].double() + g @ method.factor[0].double()
    assert torch.allclose(draw, t64(VALUES["draws"][factor]), rtol=1e-5, atol=1e-6)


def digits_config(teacher_file, **method):
    return {
        "method": {"name": "meta_data", "batches_per_class": 2, "reconstruction_batch": 16,
                   "reconstruction_steps": 60, "iterations_per_epoch": 20, "init_mean": 0.3, "init_std": 0.2,
                   **method},
        "networks": [{"name": "net0", "arch": "resnet8"}],
        "teacher": {"arch": "resnet14", "checkpoint": teacher_file},
        "data": {"name": "digits", "batch_size": 16},
        "optim": {"name": "adam", "lr": 2e-3, "weight_decay": 0.0, "schedule": "constant"},
        "train": {"epochs": 2, "threads": 1, "device": "cpu"},
        "seed": 5,
    }


@pytest.fixture(scope="module")
def teacher_with_stats(digits_teacher):
    """The digits teacher: its statistics (recorded on its own training split) lie beside it."""
    return digits_teacher


def test_reconstruction_moves_the_teachers_top_layer_to_the_draws(teacher_with_stats, tmp_path):
    trainer = Trainer(config_from_dict(digits_config(teacher_with_stats)), output_dir=str(tmp_path))
    method = trainer.method
    labels, starts, targets = method.starting_points()
    after = method.reconstruct(trainer.device)

    def fit(pixels):
        with torch.no_grad():
            scaled = torch.stack([trainer.teacher(method.normalize(b)) for b in pixels]) / method.params.temperature
            agreement = float((scaled.argmax(2) == labels[:, None]).double().mean())
            return float(top_layer_reconstruction_loss(scaled, targets)), agreement

    (loss_before, agreement_before), (loss_after, agreement_after) = fit(starts), fit(after)
    assert loss_after < 0.5 * loss_before
    # the draws are class-conditional: matching them makes the teacher see each batch's class more often
    assert agreement_after > agreement_before


def test_chunks_give_the_numbers_of_separate_runs(teacher_with_stats, tmp_path, monkeypatch):
    import distill.methods.meta_data as meta_module

    raw = digits_config(teacher_with_stats, reconstruction_steps=5)
    method = Trainer(config_from_dict(raw), output_dir=str(tmp_path)).method
    together = method.reconstruct(torch.device("cpu"))
    monkeypatch.setattr(meta_module, "CHUNK_IMAGES", 1)   # one batch a chunk: separate Adam runs
    apart = method.reconstruct(torch.device("cpu"))
    assert torch.allclose(together, apart, atol=1e-5)


def agreement_after_training(raw, tmp_path):
    trainer = Trainer(config_from_dict(raw), output_dir=str(tmp_path))
    trainer.fit()
    val = trainer.splits.val
    with torch.no_grad():
        x = trainer.normalize(val.images)
        return float((trainer.networks["net0"](x).argmax(1) == trainer.teacher(x).argmax(1)).double().mean())


def test_distillation_on_the_reconstructed_set_moves_the_student_to_the_teacher(teacher_with_stats, tmp_path):
    on = agreement_after_training(digits_config(teacher_with_stats), tmp_path / "on")
    off = agreement_after_training(digits_config(teacher_with_stats, kd_weight=0.0), tmp_path / "off")
    assert on > off + 0.15


def test_a_teacher_without_statistics_is_one_line(digits_teacher, tmp_path):
    path = tmp_path / "teacher.pt"
    path.write_bytes(open(digits_teacher, "rb").read())
    with pytest.raises(ConfigError) as error:
        validate_run(config_from_dict(digits_config(str(path))))
    assert error.value.field == "teacher" and "no recorded activation statistics" in str(error.value)
    with pytest.raises(ConfigError) as error:
        validate_run(config_from_dict(digits_config(str(path), stats_file=str(tmp_path / "missing.pt"))))
    assert error.value.field == "method.stats_file"


def test_the_teacher_store_records_statistics(tmp_path):
    import yaml

    from distill.teachers import FINISHED_FILE, teacher_dir
    from trainables.teacher_task import train_teacher

    raw = digits_config(None)
    raw["teacher"] = {"arch": "resnet8", "epochs": 1, "store": str(tmp_path / "store")}
    raw["data"]["train_limit"] = 128
    raw = config_to_dict(config_from_dict(raw))   # resolved, as the driver hands it over
    entry = train_teacher(raw)
    folder = teacher_dir(raw)
    stats = load_stats(os.path.join(folder, "checkpoint", STATS_FILE))
    assert entry["activation_stats"] == os.path.join(folder, "checkpoint", STATS_FILE)
    assert yaml.safe_load(open(os.path.join(folder, FINISHED_FILE)))["activation_stats"] == entry["activation_stats"]
    assert stats["mean"].shape == (10, 10) and stats["cov"].shape == (10, 10, 10)
    assert int(stats["count"].sum()) == 128
    validate_run(config_from_dict(raw))   # the store's teacher now serves the baseline
