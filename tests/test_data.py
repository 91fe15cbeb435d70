"""Data sets in their real on-disk formats, the validation split, augmentation."""
import os
import pickle

import numpy as np
import pytest
import torch

from distill.config import DataConfig
from distill.data import DATASETS, load_splits
from distill.data.augment import random_crop_flip
from distill.errors import ConfigError

PER_BATCH = 12          # images per CIFAR-10 batch file: 5 train files -> 60 train images
N_TEST = 10


def _images(ids, rng):
    """(N, 3072) uint8 rows in CIFAR's layout (R plane, G plane, B plane, each row-major
    32x32); the image's id is written into the R plane's first two pixels, and markers
    pin the channel and row/column order."""
    data = rng.integers(0, 256, size=(len(ids), 3072), dtype=np.uint8)
    ids = np.asarray(ids)
    data[:, 0] = ids % 256
    data[:, 1] = ids // 256
    data[:, 32] = 7            # R, row 1, column 0
    data[:, 1024] = 200        # G, row 0, column 0
    data[:, 2048 + 33] = 100   # B, row 1, column 1
    return data


def _dump(path, obj):
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)


def make_cifar10(root, per_batch=PER_BATCH, n_test=N_TEST):
    """torchvision's cifar-10-batches-py layout: pickled dicts with bytes keys."""
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder)
    rng = np.random.default_rng(0)
    for b in range(1, 6):
        ids = list(range((b - 1) * per_batch, b * per_batch))
        _dump(os.path.join(folder, f"data_batch_{b}"), {
            b"batch_label": f"training batch {b} of 5".encode(),
            b"labels": [i % 10 for i in ids],
            b"data": _images(ids, rng),
            b"filenames": [f"img_{i}.png".encode() for i in ids],
        })
    test_ids = list(range(1000, 1000 + n_test))
    _dump(os.path.join(folder, "test_batch"), {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": [(i + 3) % 10 for i in test_ids],
        b"data": _images(test_ids, rng),
        b"filenames": [f"test_{i}.png".encode() for i in test_ids],
    })
    _dump(os.path.join(folder, "batches.meta"), {
        b"num_cases_per_batch": per_batch, b"num_vis": 3072,
        b"label_names": [n.encode() for n in ("airplane", "automobile", "bird", "cat", "deer",
                                               "dog", "frog", "horse", "ship", "truck")],
    })
    return folder


def make_cifar100(root, n_train=40, n_test=8):
    folder = os.path.join(root, "cifar-100-python")
    os.makedirs(folder)
    rng = np.random.default_rng(1)
    for name, ids in (("train", list(range(n_train))), ("test", list(range(2000, 2000 + n_test)))):
        _dump(os.path.join(folder, name), {
            b"batch_label": name.encode(),
            b"fine_labels": [(i * 7) % 100 for i in ids],
            b"coarse_labels": [((i * 7) % 100) // 5 for i in ids],
            b"data": _images(ids, rng),
            b"filenames": [f"{i}.png".encode() for i in ids],
        })
    _dump(os.path.join(folder, "meta"), {
        b"fine_label_names": [f"c{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"s{i}".encode() for i in range(20)],
    })
    return folder


def ids_of(images):
    return (images[:, 0, 0, 0].long() + 256 * images[:, 0, 0, 1].long()).tolist()


@pytest.fixture
def cifar10_root(tmp_path):
    make_cifar10(str(tmp_path))
    return str(tmp_path)


# -- CIFAR-10 --------------------------------------------------------------------
def test_cifar10_shapes_dtypes_and_layout(cifar10_root):
    splits = load_splits(DataConfig(name="cifar10", root=cifar10_root, val_fraction=0.1))
    n_train_all = 5 * PER_BATCH
    n_val = round(0.1 * n_train_all)
    assert splits.num_classes == 10
    assert splits.in_channels == 3
    for part, n in ((splits.train, n_train_all - n_val), (splits.val, n_val), (splits.test, N_TEST)):
        assert part.images.shape == (n, 3, 32, 32)
        assert part.images.dtype == torch.uint8
        assert part.labels.shape == (n,)
        assert part.labels.dtype == torch.int64
        # channel order and row-major pixels, as torchvision reads them
        assert torch.all(part.images[:, 0, 1, 0] == 7)
        assert torch.all(part.images[:, 1, 0, 0] == 200)
        assert torch.all(part.images[:, 2, 1, 1] == 100)
    assert splits.crop_padding == 4 and splits.flip is True


def test_cifar10_labels_follow_images(cifar10_root):
    splits = load_splits(DataConfig(name="cifar10", root=cifar10_root))
    for part in (splits.train, splits.val):
        assert [i % 10 for i in ids_of(part.images)] == part.labels.tolist()
    test_ids = ids_of(splits.test.images)
    assert test_ids == list(range(1000, 1000 + N_TEST))
    assert [(i + 3) % 10 for i in test_ids] == splits.test.labels.tolist()


def test_validation_split_is_disjoint_and_complete(cifar10_root):
    splits = load_splits(DataConfig(name="cifar10", root=cifar10_root, val_fraction=0.2, split_seed=3))
    train_ids, val_ids = ids_of(splits.train.images), ids_of(splits.val.images)
    assert not set(train_ids) & set(val_ids)
    assert sorted(train_ids + val_ids) == list(range(5 * PER_BATCH))
    assert len(val_ids) == round(0.2 * 5 * PER_BATCH)
    assert not set(val_ids) & set(ids_of(splits.test.images))


def test_validation_split_is_fixed_by_split_seed(cifar10_root):
    def val_ids(seed):
        return ids_of(load_splits(DataConfig(name="cifar10", root=cifar10_root, split_seed=seed)).val.images)

    first = val_ids(0)
    assert val_ids(0) == first
    assert val_ids(1) != first


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.25, 0.5])
def test_val_fraction_respected(cifar10_root, fraction):
    splits = load_splits(DataConfig(name="cifar10", root=cifar10_root, val_fraction=fraction))
    total = 5 * PER_BATCH
    assert len(splits.val) == max(1, round(fraction * total))
    assert len(splits.train) + len(splits.val) == total


def test_train_limit_keeps_validation_split(cifar10_root):
    full = load_splits(DataConfig(name="cifar10", root=cifar10_root))
    limited = load_splits(DataConfig(name="cifar10", root=cifar10_root, train_limit=10))
    assert len(limited.train) == 10
    assert torch.equal(limited.train.images, full.train.images[:10])
    assert torch.equal(limited.val.images, full.val.images)


def test_channel_stats_come_from_training_split(cifar10_root):
    splits = load_splits(DataConfig(name="cifar10", root=cifar10_root))
    x = splits.train.images.double() / 255.0
    assert splits.mean == pytest.approx(x.mean(dim=(0, 2, 3)).tolist(), rel=1e-9)
    assert splits.std == pytest.approx(x.std(dim=(0, 2, 3)).tolist(), rel=1e-9)


def test_root_may_name_the_batches_folder_itself(cifar10_root):
    inner = os.path.join(cifar10_root, "cifar-10-batches-py")
    a = load_splits(DataConfig(name="cifar10", root=cifar10_root))
    b = load_splits(DataConfig(name="cifar10", root=inner))
    assert torch.equal(a.train.images, b.train.images)


def test_missing_folder_names_data_root(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_splits(DataConfig(name="cifar10", root=str(tmp_path / "nowhere")))
    assert info.value.field == "data.root"
    assert "cifar-10-batches-py" in str(info.value)


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_no_root_names_data_root(name):
    with pytest.raises(ConfigError) as info:
        load_splits(DataConfig(name=name, root=None))
    assert info.value.field == "data.root"


def test_incomplete_folder_names_missing_file(cifar10_root):
    os.remove(os.path.join(cifar10_root, "cifar-10-batches-py", "data_batch_3"))
    with pytest.raises(ConfigError) as info:
        load_splits(DataConfig(name="cifar10", root=cifar10_root))
    assert info.value.field == "data.root"
    assert "data_batch_3" in str(info.value)


def test_corrupt_batch_file_names_data_root(cifar10_root):
    with open(os.path.join(cifar10_root, "cifar-10-batches-py", "test_batch"), "wb") as fh:
        fh.write(b"\x80\x02}q\x00(X")   # a truncated pickle
    with pytest.raises(ConfigError) as info:
        load_splits(DataConfig(name="cifar10", root=cifar10_root))
    assert info.value.field == "data.root"
    assert "test_batch" in str(info.value)


# -- CIFAR-100 -------------------------------------------------------------------
def test_cifar100_fine_labels(tmp_path):
    make_cifar100(str(tmp_path))
    splits = load_splits(DataConfig(name="cifar100", root=str(tmp_path), val_fraction=0.25))
    assert splits.num_classes == 100
    assert splits.train.images.shape == (30, 3, 32, 32)
    assert splits.val.images.shape == (10, 3, 32, 32)
    assert splits.test.images.shape == (8, 3, 32, 32)
    assert splits.train.images.dtype == torch.uint8
    for part in (splits.train, splits.val, splits.test):
        assert [(i * 7) % 100 for i in ids_of(part.images)] == part.labels.tolist()
    assert not set(ids_of(splits.train.images)) & set(ids_of(splits.val.images))


def test_cifar100_incomplete(tmp_path):
    folder = make_cifar100(str(tmp_path))
    os.remove(os.path.join(folder, "test"))
    with pytest.raises(ConfigError) as info:
        load_splits(DataConfig(name="cifar100", root=str(tmp_path)))
    assert info.value.field == "data.root"
    assert "test" in info.value.problem


# -- digits ----------------------------------------------------------------------
def test_digits_loads():
    splits = load_splits(DataConfig(name="digits"))
    assert splits.num_classes == 10
    assert splits.in_channels == 1
    assert splits.train.images.shape[1:] == (1, 8, 8)
    assert splits.train.images.dtype == torch.uint8
    assert splits.train.labels.dtype == torch.int64
    assert int(splits.train.images.max()) == 255 and int(splits.train.images.min()) == 0
    assert set(splits.train.labels.tolist()) == set(range(10))
    assert len(splits.train) + len(splits.val) + len(splits.test) == 1797
    assert len(splits.test) == round(0.2 * 1797)
    assert len(splits.val) == round(0.1 * (1797 - len(splits.test)))
    assert splits.flip is False


def test_unknown_dataset_lists_known():
    with pytest.raises(ConfigError) as info:
        load_splits(DataConfig(name="svhn"))
    assert info.value.field == "data.name"
    for name in DATASETS.names():
        assert name in str(info.value)


# -- augmentation ----------------------------------------------------------------
def _batch(dtype=torch.uint8, n=16, c=3, size=8):
    gen = torch.Generator().manual_seed(5)
    x = torch.randint(1, 256, (n, c, size, size), generator=gen)
    return x.to(dtype)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_augment_keeps_shape_and_dtype(dtype):
    x = _batch(dtype)
    out = random_crop_flip(x, 2, True, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert out.dtype == dtype


def test_augment_deterministic_for_generator_seed():
    x = _batch()
    a = random_crop_flip(x, 4, True, torch.Generator().manual_seed(123))
    b = random_crop_flip(x, 4, True, torch.Generator().manual_seed(123))
    c = random_crop_flip(x, 4, True, torch.Generator().manual_seed(124))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_augment_identity_without_padding_or_flip():
    x = _batch()
    gen = torch.Generator().manual_seed(0)
    state = gen.get_state()
    out = random_crop_flip(x, 0, False, gen)
    assert torch.equal(out, x)
    assert torch.equal(gen.get_state(), state)   # no random numbers drawn


def test_augment_crops_are_shifted_windows_of_padded_image():
    x = _batch(n=32)
    pad = 2
    out = random_crop_flip(x, pad, False, torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(x, (pad,) * 4)
    shifts = set()
    for i in range(len(x)):
        matches = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                   if torch.equal(out[i], padded[i, :, dy:dy + 8, dx:dx + 8])]
        assert matches, f"image {i} is not a crop of its padded self"
        shifts.add(matches[0])
    assert len(shifts) > 1


def test_augment_flip_only_mirrors_some_images():
    x = _batch(n=64)
    out = random_crop_flip(x, 0, True, torch.Generator().manual_seed(2))
    flipped = same = 0
    for i in range(len(x)):
        if torch.equal(out[i], x[i]):
            same += 1
        elif torch.equal(out[i], x[i].flip(2)):
            flipped += 1
        else:
            pytest.fail(f"image {i} is neither itself nor its mirror")
    assert flipped > 0 and same > 0
