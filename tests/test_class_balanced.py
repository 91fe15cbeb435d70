"""Class-balanced batches (TADML's sampling K read as classes per mini-batch):
K distinct classes x B/K images per batch, epoch coverage, determinism, config
checks, and a short TADML training run that uses them."""
import math
from collections import Counter

import pytest
import torch

from distill.config import config_from_dict
from distill.data.class_balanced import check_classes_per_batch, class_balanced_batches
from distill.errors import ConfigError
from distill.trainer import Trainer


def balanced_labels(classes=10, per_class=50, seed=0):
    labels = torch.arange(classes).repeat_interleave(per_class)
    return labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))]


UNBALANCED_SIZES = [80, 60, 50, 40, 30, 20, 20, 10, 5, 5]


def unbalanced_labels(seed=0):
    labels = torch.cat([torch.full((s,), c) for c, s in enumerate(UNBALANCED_SIZES)])
    return labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))]


def epoch(labels, batch=40, k=4, classes=10, seed=0):
    return list(class_balanced_batches(labels, batch, k, classes, torch.Generator().manual_seed(seed)))


def assert_batch_shape(labels, batches, k, per_class):
    for index in batches:
        assert index.dtype == torch.long and index.numel() == k * per_class
        counts = Counter(labels[index].tolist())
        assert len(counts) == k, f"batch has classes {sorted(counts)}"
        assert set(counts.values()) == {per_class}
        # grouped: B/K consecutive images of one class
        assert all(len(set(labels[index[i:i + per_class]].tolist())) == 1 for i in range(0, len(index), per_class))


@pytest.mark.parametrize("k", [1, 2, 4, 5, 8, 10])
def test_balanced_batches_have_k_classes(k):
    labels = balanced_labels()
    batches = epoch(labels, k=k)
    assert len(batches) == len(labels) // 40
    assert_batch_shape(labels, batches, k, 40 // k)


def test_balanced_epoch_covers_nearly_every_index_without_repeats():
    labels = balanced_labels()              # 500 images, 12 batches of 40
    flat = torch.cat(epoch(labels))
    assert flat.numel() == 480
    assert flat.unique().numel() == 480, "an image was repeated within the epoch"
    # classes are drawn evenly: 48 chunks of 10 over 10 classes of 5 chunks = 8 classes whole, 2 short by one chunk
    assert sorted(Counter(labels[flat].tolist()).values()) == [40, 40] + [50] * 8


def test_divisible_epoch_uses_every_index_exactly_once():
    labels = balanced_labels(classes=10, per_class=40)     # 400 images = 10 batches of 4 x 10
    for seed in range(3):
        flat = torch.cat(epoch(labels, seed=seed))
        assert torch.equal(flat.sort().values, torch.arange(len(labels)))


def test_unbalanced_batches():
    labels = unbalanced_labels()
    batches = epoch(labels)
    assert len(batches) == len(labels) // 40
    assert_batch_shape(labels, batches, 4, 10)
    flat = torch.cat(batches)
    assert flat.unique().numel() >= 0.95 * len(labels)
    # the large classes are used up completely; over a few epochs every class is seen
    seen_once = Counter(labels[flat.unique()].tolist())
    for c in (0, 1, 2):
        assert seen_once[c] == UNBALANCED_SIZES[c]
    gen = torch.Generator().manual_seed(1)
    seen = set()
    for _ in range(10):
        for index in class_balanced_batches(labels, 40, 4, 10, gen):
            seen.update(labels[index].tolist())
    assert seen == set(range(10))


def test_deterministic_for_a_seed_and_varies_with_it():
    labels = balanced_labels()
    a, b = epoch(labels, seed=7), epoch(labels, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and len(a) == len(b)
    c = epoch(labels, seed=8)
    assert not all(torch.equal(x, y) for x, y in zip(a, c))
    # consecutive epochs from one generator differ
    gen = torch.Generator().manual_seed(7)
    first = list(class_balanced_batches(labels, 40, 4, 10, gen))
    second = list(class_balanced_batches(labels, 40, 4, 10, gen))
    assert not all(torch.equal(x, y) for x, y in zip(first, second))


def test_check_classes_per_batch():
    check_classes_per_batch(4, 40, 10)
    check_classes_per_batch(10, 10, 10)
    with pytest.raises(ConfigError) as err:
        check_classes_per_batch(11, 40, 10)
    assert err.value.field == "data.classes_per_batch"
    assert "data.classes_per_batch" in str(err.value) and "10" in str(err.value)
    with pytest.raises(ConfigError) as err:
        check_classes_per_batch(50, 40, 100)
    assert err.value.field == "data.classes_per_batch"
    assert "batch_size" in str(err.value) and "40" in str(err.value)


def test_more_classes_per_batch_than_present_is_a_config_error():
    labels = torch.tensor([0] * 20 + [1] * 20 + [2] * 20)       # 3 of 10 classes present
    with pytest.raises(ConfigError) as err:
        epoch(labels, batch=40, k=4, classes=10)
    assert err.value.field == "data.classes_per_batch"


def _config(tmp_path, **data):
    return config_from_dict({
        "method": {"name": "tadml"},
        "networks": [{"name": "net0", "arch": "resnet8"}, {"name": "net1", "arch": "resnet8"}],
        "data": {"name": "digits", "batch_size": 32, "train_limit": 128, **data},
        "optim": {"lr": 0.05, "momentum": 0.9, "schedule": "cosine"},
        "train": {"epochs": 1, "threads": 1, "device": "cpu"},
        "seed": 0,
        "output_dir": str(tmp_path / "run"),
    })


def test_trainer_with_classes_per_batch(tmp_path):
    trainer = Trainer(_config(tmp_path, classes_per_batch=4))
    batches = list(trainer.train_batches)
    assert len(batches) == len(trainer.train_batches) == 4
    for batch in batches:
        images, labels = batch.images, batch.labels
        assert images.shape[0] == 32
        counts = Counter(labels.tolist())
        assert len(counts) == 4 and set(counts.values()) == {8}
    history = trainer.fit()
    assert len(history) == 1
    last = history[0]
    for term in ("ce", "js", "adv", "topology", "disc"):
        for net in ("net0", "net1"):
            key = f"loss.{term}.{net}"
            assert key in last and math.isfinite(last[key]), key
    assert 0.0 <= last["val_acc.net0"] <= 100.0


def test_trainer_rejects_too_many_classes_per_batch(tmp_path):
    with pytest.raises(ConfigError) as err:
        Trainer(_config(tmp_path, classes_per_batch=11))
    assert err.value.field == "data.classes_per_batch"
    with pytest.raises(ConfigError) as err:
        Trainer(_config(tmp_path, classes_per_batch=8, batch_size=4))
    assert err.value.field == "data.classes_per_batch"
