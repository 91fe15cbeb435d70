"""Tiny-ImageNet read from its real folder layout (written small here with PIL)."""
import os

import numpy as np
import pytest
from PIL import Image

from distill.config import DataConfig
from distill.data import load_splits
from distill.data.registry import check_data
from distill.errors import ConfigError

WNIDS = ["n01443537", "n01629819", "n01641577"]


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
        Image.fromarray(rng.randint(0, 255, (64, 64, 3)).astype(np.uint8)).save(folder / "val" / "images" / f"val_{name}.JPEG")
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
