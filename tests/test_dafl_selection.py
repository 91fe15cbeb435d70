"""Selection without real data: the data-free score (the student's agreement with the
teacher on generated images) ranks DAFL trials on digits the way validation accuracy
on the held-out real split does, and the report says how far apart the two are."""
import pytest

from distill.config import config_from_dict
from distill.trainer import Trainer
from platform.selection_note import REAL_DATA, selection_label, selection_note, spearman

# trials of clearly different quality: noise inputs, then ever longer generator training
TRIALS = [
    {"inputs": "normal_noise", "iterations_per_epoch": 2},
    {"iterations_per_epoch": 2},
    {"iterations_per_epoch": 10},
    {"iterations_per_epoch": 30},
]


@pytest.fixture(scope="module")
def lenet_teacher(tmp_path_factory):
    """LeNet-5 briefly trained on digits at 32x32 (no BatchNorm: a student's statistics on
    generated images cannot hide what it learnt, as a small ResNet's can in 2 epochs)."""
    import torch

    folder = tmp_path_factory.mktemp("lenet_teacher")
    trainer = Trainer(config_from_dict({
        "method": {"name": "independent"}, "networks": [{"name": "teacher", "arch": "lenet5"}],
        "data": {"name": "digits32", "batch_size": 64}, "optim": {"lr": 0.05, "schedule": "cosine"},
        "train": {"epochs": 4, "threads": 1, "device": "cpu"}, "seed": 0}), output_dir=str(folder))
    trainer.fit()
    path = folder / "teacher.pt"
    torch.save(trainer.networks["teacher"].state_dict(), path)
    return str(path)


@pytest.fixture(scope="module")
def finished_trials(lenet_teacher, tmp_path_factory):
    rows = []
    for i, method in enumerate(TRIALS):
        raw = {"method": {"name": "dafl", "agreement_samples": 512, "generator_width": 16, "latent_dim": 32,
                          "generator_lr": 0.02, **method},
               "networks": [{"name": "net0", "arch": "lenet5_half"}],
               "teacher": {"arch": "lenet5", "checkpoint": lenet_teacher},
               "data": {"name": "digits32", "batch_size": 64},
               "optim": {"name": "adam", "lr": 5e-3, "weight_decay": 0.0, "schedule": "constant"},
               "train": {"epochs": 2, "threads": 1, "device": "cpu"}, "seed": 5}
        last = Trainer(config_from_dict(raw), output_dir=str(tmp_path_factory.mktemp(f"trial{i}"))).fit()[-1]
        rows.append({"status": "ok", "trial_id": str(i), **last})
    return rows


def test_data_free_score_ranks_trials_as_validation_accuracy(finished_trials):
    free = [r["val_agreement.net0"] for r in finished_trials]
    real = [r["val_acc.net0"] for r in finished_trials]
    rho = spearman(free, real)
    assert rho is not None and rho >= 0.8, (free, real)


def test_the_report_says_which_selection_and_how_far_apart(finished_trials):
    note = selection_note(finished_trials, "val_agreement.net0")
    assert "data-free" in note and "no real image" in note
    rho = spearman([r["val_agreement.net0"] for r in finished_trials], [r["val_acc.net0"] for r in finished_trials])
    assert f"Spearman rho = {rho:.2f}" in note and "4 trials" in note
    assert selection_label("val_acc.net0") == REAL_DATA
    assert "uses real data" in selection_note(finished_trials, "val_acc.net0")


def test_spearman_against_hand_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties take their mean rank: ranks (0.5, 0.5, 2, 3) against (0, 1, 2, 3)
    assert spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486832980505138)
    assert spearman([1, 2], [1, 2]) is None and spearman([1, 1, 1], [1, 2, 3]) is None
