"""CelebA read from its published layout (a generated folder in the real format): the
published partitions, the most balanced attribute as the label, ``data.attribute``, the
reference's crop, the decode cache, and every defect of the files as one line."""
import os
import re
import shutil
import sys

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from distill.config import DataConfig, config_from_dict
from distill.data import DATA_INFO, load_splits
from distill.data import celeba_smoke
from distill.data.celeba import ATTR_FILE, ATTRIBUTES, IMAGES, PARTITION_FILE
from distill.data.registry import check_contents, check_data
from sweep_runner import cli_in_process
from test_data_faults import one_line

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
from celeba_folder import write_celeba_folder  # noqa: E402

ATTRACTIVE, SMILING = ATTRIBUTES.index("Attractive"), ATTRIBUTES.index("Smiling")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """One generated folder, copied by ``celeba`` for each test that edits it."""
    return write_celeba_folder(tmp_path_factory.mktemp("celeba_pristine"))


@pytest.fixture
def celeba(pristine, tmp_path):
    folder = tmp_path / "CelebA"
    shutil.copytree(pristine, folder, ignore=shutil.ignore_patterns(".distill_cache_*"))
    return folder


def cfg(root, name="celeba64", **kw):
    return DataConfig(name=name, root=str(root), **kw)


def file_table(folder):
    """The attribute file read plainly: image names and the (N, 40) table of +1."""
    lines = (folder / ATTR_FILE).read_text().splitlines()[2:]
    return [line.split()[0] for line in lines], np.array([[v == "1" for v in line.split()[1:]] for line in lines])


def edit(path, number, new_line):
    lines = path.read_text().splitlines()
    lines[number - 1] = new_line
    path.write_text("\n".join(lines) + "\n")


def test_the_published_partitions_and_the_most_balanced_attribute(celeba):
    splits = load_splits(cfg(celeba.parent))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (40, 10, 10)
    assert splits.num_classes == 2 and splits.flip and splits.crop_padding == 0
    assert splits.mean == (0.0, 0.0, 0.0) and splits.std == (1.0, 1.0, 1.0)   # the reference's [0, 1] pixels
    assert splits.train.images.shape[1:] == (3, 64, 64) and splits.train.images.dtype == torch.uint8
    _, table = file_table(celeba)
    fractions = np.abs(table.mean(axis=0) - 0.5)
    assert int(np.argmin(fractions)) == ATTRACTIVE          # the generator's balance, as on the real file
    # partition 0 is train, 1 validation, 2 test, each in file order
    assert splits.train.labels.tolist() == table[:40, ATTRACTIVE].astype(int).tolist()
    assert splits.val.labels.tolist() == table[40:50, ATTRACTIVE].astype(int).tolist()
    assert splits.test.labels.tolist() == table[50:, ATTRACTIVE].astype(int).tolist()
    assert all(not part.extras for part in (splits.train, splits.val, splits.test))
    # the learnable signal: Attractive faces are brighter
    centre = splits.train.images[:, :, 24:40, 24:40].float().mean(dim=(1, 2, 3))
    assert centre[splits.train.labels == 1].mean() > centre[splits.train.labels == 0].mean() + 20


def test_the_label_follows_the_most_balanced_column_of_the_file(celeba):
    """Make Smiling exactly balanced and Attractive less so: Smiling becomes the label."""
    names, table = file_table(celeba)
    table[:, SMILING] = np.arange(len(table)) % 2 == 0
    table[:, ATTRACTIVE] = np.arange(len(table)) < 20
    text = [f"{len(names)}", " ".join(ATTRIBUTES)]
    text += [name + "".join(f" {1 if v else -1:2d}" for v in row) for name, row in zip(names, table)]
    (celeba / ATTR_FILE).write_text("\n".join(text) + "\n")
    splits = load_splits(cfg(celeba))                       # data.root the CelebA folder itself
    assert splits.train.labels.tolist() == table[:40, SMILING].astype(int).tolist()


def test_data_attribute_picks_another_column_and_subsets_stratify_by_it(celeba):
    _, table = file_table(celeba)
    splits = load_splits(cfg(celeba.parent, attribute="Smiling"))
    assert splits.train.labels.tolist() == table[:40, SMILING].astype(int).tolist()
    assert splits.test.labels.tolist() == table[50:, SMILING].astype(int).tolist()
    small = load_splits(cfg(celeba.parent, attribute="Smiling", train_subset=8, val_subset=4))
    assert len(small.train) == 8 and len(small.val) == 4
    assert small.train.labels.sum() == 4 and small.val.labels.sum() == 2


def test_the_crop_drops_the_rows_outside_20_to_198_and_224_is_the_reference_size(celeba):
    big = load_splits(cfg(celeba.parent, name="celeba")).test.images
    assert big.shape == (10, 3, 224, 224)
    for images in (big, load_splits(cfg(celeba.parent)).test.images):
        top, bottom = images[:, :, 0].float().mean(dim=(0, 2)), images[:, :, -1].float().mean(dim=(0, 2))
        # the generator paints rows 0:20 magenta (255, 0, 255) and 198:218 green (0, 255, 0)
        assert not (top[0] > 200 and top[1] < 60) and not (bottom[1] > 200 and bottom[0] < 60)
    whole = np.asarray(Image.open(celeba / IMAGES / "000051.jpg").convert("RGB"))[20:198]
    expected = np.asarray(Image.fromarray(whole).resize((224, 224), Image.BILINEAR)).transpose(2, 0, 1)
    assert np.abs(big[0].numpy().astype(int) - expected.astype(int)).max() <= 1


def test_the_second_load_reads_the_cache_and_relabelling_reuses_it(celeba, monkeypatch):
    first = load_splits(cfg(celeba.parent))
    assert (celeba / ".distill_cache_celeba64_u8.npz").is_file()
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("decoded again instead of reading the cache"))
    second = load_splits(cfg(celeba.parent, attribute="Smiling"))
    assert torch.equal(first.train.images, second.train.images) and torch.equal(first.test.images, second.test.images)


def test_data_info_and_the_driver_reads_the_whole_set(celeba):
    for name, side in (("celeba", 224), ("celeba64", 64), ("celeba64_smoke", 64)):
        info = DATA_INFO.get(name)
        assert (info.num_classes, info.in_channels, info.image_size, info.flip) == (2, 3, (side, side), True)
        assert info.attributes == ATTRIBUTES and len(ATTRIBUTES) == 40
    check_contents(cfg(celeba.parent))


@pytest.mark.parametrize("missing", ["", IMAGES, ATTR_FILE, PARTITION_FILE])
def test_a_missing_piece_names_it_and_the_layout(celeba, missing):
    target = celeba / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    root = celeba.parent
    text = one_line(lambda: check_data(cfg(root)))
    assert text.startswith("data.root: ") and str(target).rstrip("/") in text
    assert IMAGES in text and ATTR_FILE in text and PARTITION_FILE in text


BAD_FILES = {
    # name -> (file, line number, new line or None to delete the image, words the message holds)
    "image missing on disk": (PARTITION_FILE, 3, None, ["000003.jpg does not exist", f"{PARTITION_FILE} line 3"]),
    "malformed partition line": (PARTITION_FILE, 5, "000005.jpg 3", [f"{PARTITION_FILE} line 5", "<0|1|2>"]),
    "malformed attribute line": (ATTR_FILE, 7, "000005.jpg  1 -1", [f"{ATTR_FILE} line 7", "40 values"]),
    "attribute image not in the partition file": (ATTR_FILE, 4, "000099.jpg" + " -1" * 40,
                                                  [f"{ATTR_FILE} line 4", "000099.jpg", PARTITION_FILE]),
    "value other than -1/1": (ATTR_FILE, 3, "000001.jpg  0" + "  1" * 39,
                              [f"{ATTR_FILE} line 3", "5_o_Clock_Shadow is '0'", "-1 or 1"]),
    "count line": (ATTR_FILE, 1, "61", [f"{ATTR_FILE} line 1 counts 61 images", "60 image lines"]),
    "attribute names": (ATTR_FILE, 2, " ".join(ATTRIBUTES[:-1] + ("Old",)), [f"{ATTR_FILE} line 2", "'Old'"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_defect_in_the_files_is_one_line_naming_the_file_and_line(celeba, case):
    name, number, new_line, words = BAD_FILES[case]
    if new_line is None:
        (celeba / IMAGES / "000003.jpg").unlink()
    else:
        edit(celeba / name, number, new_line)
    text = one_line(lambda: check_contents(cfg(celeba.parent)))
    assert text.startswith("data.root: ")
    for word in words:
        assert word in text


def test_a_partition_image_without_attributes_and_an_image_of_another_size(celeba):
    lines = (celeba / ATTR_FILE).read_text().splitlines()
    (celeba / ATTR_FILE).write_text("\n".join(["59"] + lines[1:5] + lines[6:]) + "\n")   # 000004.jpg's line
    text = one_line(lambda: load_splits(cfg(celeba.parent)))
    assert f"{PARTITION_FILE} line 4 names 000004.jpg" in text and ATTR_FILE in text
    (celeba / ATTR_FILE).write_text("\n".join(lines) + "\n")
    Image.new("RGB", (100, 100)).save(celeba / IMAGES / "000002.jpg")
    text = one_line(lambda: load_splits(cfg(celeba.parent)))
    assert "000002.jpg is 100x100" in text and "178x218" in text


def test_an_unknown_attribute_is_refused_before_any_file_is_read(tmp_path):
    text = one_line(lambda: check_data(cfg(tmp_path / "nowhere", attribute="Smile")))
    assert text.startswith("data.attribute: ") and "'Smile'" in text and "Attractive" in text and "Young" in text
    text = one_line(lambda: check_data(DataConfig(name="digits", attribute="Smiling")))
    assert text.startswith("data.attribute: ") and "digits has no attributes" in text and "celeba" in text
    raw = {"method": {"name": "independent"}, "networks": [{"name": "net0", "arch": "alexnet_half"}],
           "data": {"name": "celeba64", "root": str(tmp_path / "nowhere"), "attribute": "smiling"}}
    text = one_line(lambda: config_from_dict(raw))
    assert text.startswith("data.attribute: ") and "Smiling" in text


def test_the_training_cli_on_a_folder_missing_a_file_exits_2_with_one_line(celeba, tmp_path):
    (celeba / PARTITION_FILE).unlink()
    config = {"method": {"name": "independent"}, "networks": [{"name": "net0", "arch": "alexnet_half"}],
              "data": {"name": "celeba64", "root": str(celeba.parent)},
              "train": {"epochs": 1, "device": "cpu"}, "output_dir": str(tmp_path / "run")}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = cli_in_process("distill.train", "--config", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and PARTITION_FILE in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_the_smoke_set_is_generated_once_and_read_by_the_real_loader(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user"))
    monkeypatch.setattr(celeba_smoke, "COUNTS", (16, 4, 4))   # the real 400/100/100 takes seconds to write
    check_data(DataConfig(name="celeba64_smoke"))             # the driver's check writes it
    folder = tmp_path / "user" / "distill" / celeba_smoke.VERSION / "CelebA"
    assert sorted(os.listdir(folder)) == [IMAGES, ATTR_FILE, PARTITION_FILE]
    splits = load_splits(DataConfig(name="celeba64_smoke"))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (16, 4, 4)
    assert splits.train.labels.sum() == 8 and splits.val.labels.sum() == 2   # Attractive: half of every partition
    assert splits.train.images.shape[1:] == (3, 64, 64)
    (tmp_path / "busy" / "CelebA").mkdir(parents=True)
    (tmp_path / "busy" / "CelebA" / "notes.txt").write_text("mine")
    text = one_line(lambda: check_data(DataConfig(name="celeba64_smoke", root=str(tmp_path / "busy"))))
    assert str(tmp_path / "busy" / "CelebA") in text


def test_the_generator_is_deterministic_with_attractive_the_most_balanced(tmp_path):
    a, b = write_celeba_folder(tmp_path / "a"), write_celeba_folder(tmp_path / "b")
    for name in (ATTR_FILE, PARTITION_FILE, os.path.join(IMAGES, "000060.jpg")):
        assert open(os.path.join(a, name), "rb").read() == open(os.path.join(b, name), "rb").read()
    lines = open(os.path.join(a, ATTR_FILE)).read().splitlines()
    assert lines[0] == "60" and lines[1].split() == list(ATTRIBUTES)
    # the real file's spacing: a value is "-1" after one space or "1" after two
    assert all(re.fullmatch(r"\d{6}\.jpg(  1| -1){40}", line) for line in lines[2:])
    _, table = file_table(tmp_path / "a" / "CelebA")
    balance = np.abs(table.mean(axis=0) - 0.5)
    assert balance[ATTRACTIVE] == 0 and np.delete(balance, ATTRACTIVE).min() > 0
