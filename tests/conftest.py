import os
import sys

# test helpers (sweep_runner) import by plain name
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def digits_teacher(tmp_path_factory):
    """A ResNet-14 teacher briefly trained on digits, as a state-dict file (a fresh
    network's BatchNorm statistics would give logits in the hundreds), with its activation
    statistics beside it."""
    import torch

    from distill.config import config_from_dict
    from distill.trainer import Trainer

    folder = tmp_path_factory.mktemp("digits_teacher")
    trainer = Trainer(config_from_dict({
        "method": {"name": "independent"}, "networks": [{"name": "teacher", "arch": "resnet14"}],
        "data": {"name": "digits", "batch_size": 32, "train_limit": 256},
        "optim": {"lr": 0.05, "schedule": "cosine"}, "train": {"epochs": 2, "threads": 1, "device": "cpu"},
        "seed": 11}), output_dir=str(folder))
    trainer.fit()
    path = folder / "teacher.pt"
    torch.save(trainer.networks["teacher"].state_dict(), path)
    # its activation statistics beside it, as the teacher store records them (the meta-data baseline)
    from distill.activation_stats import STATS_FILE, compute_stats, save_stats

    train = trainer.splits.train
    save_stats(compute_stats(trainer.networks["teacher"], train.images, train.labels, trainer.normalize,
                             trainer.splits.num_classes), str(folder / STATS_FILE))
    return str(path)
