"""Tiny-ImageNet read from its real folder layout (written small here with PIL)."""
import os

import tempfile

import numpy as np
import pytest
import torch
from PIL import Image

from distill.config import DataConfig
from distill.data import load_splits
from distill.data.registry import check_data
from distill.errors import ConfigError

WNIDS = ["n01641577", "n01443537", "n01629819"]   # not sorted: the class index is the line order


def write_tiny(root, train_per_class=4, val=((0, "a"), (2, "b"), (1, "c"))):
    folder = root / "tiny-imagenet-200"
    (folder / "val" / "images").mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    rng = np.random.RandomState(0)
    for c, wnid in enumerate(WNIDS):
        images = folder / "train" / wnid / "images"
        images.mkdir(parents=True)
        for i in range(train_per_class):
            pixels = np.full((64, 64, 3), 40 * c + i, np.uint8)
            mode = "L" if (c, i) == (1, 0) else "RGB"      # the real set has greyscale JPEGs
            image = Image.fromarray(pixels[:, :, 0], "L") if mode == "L" else Image.fromarray(pixels)
            image.save(images / f"{wnid}_{i}.JPEG", quality=100)
    lines = []
    for c, name in val:
        pixels = np.full((64, 64, 3), 200 + 10 * c, np.uint8)
        pixels[:2, :2] = rng.randint(0, 255, (2, 2, 3))
        Image.fromarray(pixels).save(folder / "val" / "images" / f"val_{name}.JPEG", quality=100)
        lines.append(f"val_{name}.JPEG\t{WNIDS[c]}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return folder


def cfg(root):
    return DataConfig(name="tiny_imagenet", root=str(root), val_fraction=0.25)


def test_loads_the_real_layout(tmp_path):
    write_tiny(tmp_path)
    splits = load_splits(cfg(tmp_path))
    assert splits.num_classes == 200 and splits.crop_padding == 8 and splits.flip
    assert len(splits.train) + len(splits.val) == 12
    assert splits.train.images.shape[1:] == (3, 64, 64)
    assert sorted(splits.test.labels.tolist()) == [0, 1, 2]     # the official val is our test split
    # class order follows wnids.txt; pixel values survive JPEG closely; greyscale became RGB
    all_train = {int(lbl): img for img, lbl in zip(splits.train.images, splits.train.labels)}
    assert set(all_train) <= {0, 1, 2}
    assert os.path.isfile(tmp_path / "tiny-imagenet-200" / ".distill_cache_u8.npz")


def test_second_load_uses_the_cache(tmp_path, monkeypatch):
    write_tiny(tmp_path)
    first = load_splits(cfg(tmp_path))

    def refuse(*args, **kwargs):
        raise AssertionError("decoded again instead of reading the cache")
    monkeypatch.setattr(Image, "open", refuse)
    second = load_splits(cfg(tmp_path))
    assert (first.train.images == second.train.images).all()


@pytest.mark.parametrize("missing", ["wnids.txt", "train", "val/val_annotations.txt"])
def test_missing_pieces_name_data_root(tmp_path, missing):
    folder = write_tiny(tmp_path)
    target = folder / missing
    if target.is_dir():
        import shutil
        shutil.rmtree(target)
    else:
        target.unlink()
    with pytest.raises(ConfigError) as err:
        check_data(cfg(tmp_path))
    assert err.value.field == "data.root" and missing.split("/")[-1] in str(err.value)


def test_bad_annotation_line_names_the_file(tmp_path):
    folder = write_tiny(tmp_path)
    (folder / "val" / "val_annotations.txt").write_text("val_a.JPEG\tn99999999\t0\t0\t1\t1\n")
    with pytest.raises(ConfigError) as err:
        load_splits(cfg(tmp_path))
    assert "val_annotations.txt line 1" in str(err.value)


def test_unreadable_image_names_the_file(tmp_path):
    folder = write_tiny(tmp_path)
    bad = folder / "train" / WNIDS[0] / "images" / f"{WNIDS[0]}_0.JPEG"
    bad.write_text("not an image")
    with pytest.raises(ConfigError) as err:
        load_splits(cfg(tmp_path))
    assert str(bad) in str(err.value)


def _class_of(image):
    """Train image of class c, index i has every pixel 40*c + i (i < 4)."""
    return int(round(image.float().mean().item() / 40))


def test_labels_follow_wnids_order_and_greyscale_becomes_rgb(tmp_path):
    write_tiny(tmp_path)
    splits = load_splits(cfg(tmp_path))
    images = torch.cat([splits.train.images, splits.val.images])
    labels = torch.cat([splits.train.labels, splits.val.labels])
    assert images.dtype == torch.uint8 and images.shape == (12, 3, 64, 64)
    assert sorted(labels.tolist()) == [0] * 4 + [1] * 4 + [2] * 4
    for image, label in zip(images, labels):
        assert _class_of(image) == int(label)
    grey = images[(labels == 1) & (images[:, 0, 0, 0] == 40)]
    assert len(grey) == 1 and torch.equal(grey[0, 0], grey[0, 1]) and torch.equal(grey[0, 0], grey[0, 2])
    # the test split is val/, in annotation order, labelled by the annotation's wnid
    assert splits.test.labels.tolist() == [0, 2, 1]
    assert splits.test.images[:, :, 8:, 8:].float().mean(dim=(1, 2, 3)).round().tolist() == [200.0, 220.0, 210.0]


def test_cache_is_invalidated_when_the_files_change(tmp_path, monkeypatch):
    folder = write_tiny(tmp_path)
    assert len(load_splits(cfg(tmp_path)).test) == 3
    Image.fromarray(np.full((64, 64, 3), 7, np.uint8)).save(folder / "val" / "images" / "val_d.JPEG")
    with open(folder / "val" / "val_annotations.txt", "a") as fh:
        fh.write(f"val_d.JPEG\t{WNIDS[1]}\t0\t0\t63\t63\n")
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    splits = load_splits(cfg(tmp_path))
    assert len(opened) == 12 + 4 and splits.test.labels.tolist() == [0, 2, 1, 1]


def test_relabelling_reuses_the_cached_images(tmp_path, monkeypatch):
    """Labels come from the annotation file on every load, never from the cache."""
    folder = write_tiny(tmp_path)
    load_splits(cfg(tmp_path))
    (folder / "val" / "val_annotations.txt").write_text(
        "".join(f"val_{n}.JPEG\t{WNIDS[2]}\t0\t0\t63\t63\n" for n in "abc"))
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("decoded again"))
    assert load_splits(cfg(tmp_path)).test.labels.tolist() == [2, 2, 2]


def test_corrupt_cache_is_rebuilt(tmp_path):
    folder = write_tiny(tmp_path)
    first = load_splits(cfg(tmp_path))
    (folder / ".distill_cache_u8.npz").write_bytes(b"half a file")
    again = load_splits(cfg(tmp_path))
    assert torch.equal(first.test.images, again.test.images)
    with np.load(folder / ".distill_cache_u8.npz", allow_pickle=False) as cached:
        assert cached["train_x"].shape == (12, 3, 64, 64)


def test_read_only_folder_caches_in_the_user_cache(tmp_path, monkeypatch):
    folder = write_tiny(tmp_path / "data")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user"))
    real_mkstemp = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):
        if os.path.samefile(dir, folder):
            raise PermissionError(13, "Permission denied", dir)
        return real_mkstemp(*args, dir=dir, **kwargs)
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    first = load_splits(cfg(tmp_path / "data"))
    assert not (folder / ".distill_cache_u8.npz").exists()
    assert len(list((tmp_path / "user" / "distill").glob("tiny_imagenet_*.npz"))) == 1
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("decoded again"))
    assert torch.equal(load_splits(cfg(tmp_path / "data")).train.images, first.train.images)


def test_root_may_be_the_folder_itself(tmp_path):
    folder = write_tiny(tmp_path)
    assert len(load_splits(cfg(folder)).test) == 3


@pytest.mark.parametrize("root", [None, "absent"])
def test_missing_root_is_one_line_naming_data_root(tmp_path, root):
    with pytest.raises(ConfigError) as err:
        check_data(cfg(tmp_path / root if root else None))
    assert err.value.field == "data.root" and "\n" not in str(err.value)


def test_missing_val_image_names_the_file(tmp_path):
    folder = write_tiny(tmp_path)
    (folder / "val" / "images" / "val_b.JPEG").unlink()
    with pytest.raises(ConfigError) as err:
        load_splits(cfg(tmp_path))
    assert "val_b.JPEG" in str(err.value) and "\n" not in str(err.value)
