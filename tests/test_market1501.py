"""Market-1501 read from its real on-disk format (written small here with PIL),
the identity-disjoint validation split, the cache, and the smoke generator."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from distill.config import DataConfig
from distill.data import DATA_INFO, DATASETS, load_splits
from distill.data.augment import random_crop_flip
from distill.data.batches import Normalizer, TrainBatches
from distill.data.market1501 import Layout, register
from distill.data.market_smoke import SMOKE, write_market_smoke
from distill.data.registry import check_data
from distill.errors import ConfigError

TINY = Layout("market1501_test_tiny", num_classes=6, size=(32, 16), crop_padding=2)
if TINY.name not in DATASETS:
    register(TINY)

# person id -> cameras it is seen by in bounding_box_train (2 images per camera)
TRAIN = {2: (1, 2), 7: (1, 3, 5), 10: (2, 6), 11: (1, 2, 4), 23: (3, 4), 1500: (5, 6)}
# (person, camera), in file name order ("-1_" < "0000_" < "0001_"), which is the loaders' order
QUERY = [(1, 1), (1, 2), (3, 1)]
GALLERY = [(-1, 5), (0, 2), (1, 2), (1, 3), (3, 1), (3, 4)]


def pixel(person: int, camera: int) -> np.ndarray:
    """A flat 16x8 image whose colour tells its person and camera apart after JPEG and resizing."""
    colour = (40 * camera, 10 * (person % 23) + 20, 200 if person <= 0 else 100)
    return np.full((16, 8, 3), colour, np.uint8)


def person_camera(image: torch.Tensor):
    red, green, _ = image.float().mean(dim=(1, 2)).tolist()
    return int(round((green - 20) / 10)), int(round(red / 40))


def save(folder, person: int, camera: int, frame: int) -> None:
    name = f"{person:04d}" if person >= 0 else "-1"
    Image.fromarray(pixel(person, camera)).save(folder / f"{name}_c{camera}s1_{frame:06d}_01.jpg", quality=100)


def write_market(root, train=TRAIN, per_camera=2):
    for sub in ("bounding_box_train", "query", "bounding_box_test"):
        (root / sub).mkdir(parents=True)
    frame = 0
    for person, cameras in train.items():
        for camera in cameras:
            for _ in range(per_camera):
                frame += 1
                save(root / "bounding_box_train", person, camera, frame)
    save(root / "bounding_box_train", -1, 3, 999)        # junk in train: skipped
    (root / "bounding_box_train" / "Thumbs.db").write_bytes(b"\xd0\xcf not an image")
    (root / "query" / "readme.txt").write_text("not a jpg: ignored")
    for person, camera in QUERY:
        frame += 1
        save(root / "query", person, camera, frame)
    for person, camera in GALLERY:
        frame += 1
        save(root / "bounding_box_test", person, camera, frame)
    return root


def cfg(root, name=TINY.name, **kw):
    return DataConfig(name=name, root=str(root), **{"val_fraction": 1 / 3, **kw})


def test_labels_ids_and_extras_follow_the_file_names(tmp_path):
    write_market(tmp_path)
    splits = load_splits(cfg(tmp_path))
    assert splits.num_classes == 6 and splits.flip and splits.crop_padding == 2
    train, val, test = splits.train, splits.val, splits.test
    assert train.images.shape[1:] == (3, 32, 16) and train.images.dtype == torch.uint8
    assert len(train) + len(val) == 2 * sum(len(c) for c in TRAIN.values())       # junk skipped
    ids = sorted(TRAIN)
    for image, label, person, camera in zip(train.images, train.labels, train.extras["person_id"],
                                            train.extras["camera"]):
        assert ids[int(label)] == int(person)                                   # class = index among sorted ids
        assert person_camera(image) == (int(person) % 23, int(camera))
    # test: query/ then bounding_box_test/, raw ids (-1 junk, 0 distractor), camera and query extras
    expected = QUERY + GALLERY
    assert test.labels.tolist() == [p for p, _ in expected]
    assert test.extras["camera"].tolist() == [c for _, c in expected]
    assert test.extras["query"].tolist() == [True] * len(QUERY) + [False] * len(GALLERY)
    assert test.labels.dtype == torch.int64 and test.extras["camera"].dtype == torch.int64
    for image, person, camera in zip(test.images, test.labels, test.extras["camera"]):
        assert person_camera(image) == (int(person) % 23, int(camera))


def test_validation_is_identity_disjoint_one_query_per_identity_and_camera(tmp_path):
    write_market(tmp_path)
    splits = load_splits(cfg(tmp_path))
    val_ids = set(splits.val.labels.tolist())
    assert len(val_ids) == 2 and val_ids <= set(TRAIN)                           # round(6 / 3) identities
    assert not val_ids & set(splits.train.extras["person_id"].tolist())
    assert len(splits.val) == sum(2 * len(TRAIN[p]) for p in val_ids)
    query = splits.val.extras["query"]
    pairs = list(zip(splits.val.labels.tolist(), splits.val.extras["camera"].tolist()))
    assert sorted(p for p, q in zip(pairs, query) if q) == sorted(set(pairs))    # one query per (id, camera)
    for image, (person, camera) in zip(splits.val.images, pairs):
        assert person_camera(image) == (person % 23, camera)


def test_validation_split_depends_only_on_split_seed(tmp_path):
    write_market(tmp_path)
    torch.manual_seed(1)
    first = load_splits(cfg(tmp_path))
    torch.manual_seed(2)                                                          # another trial seed
    again = load_splits(cfg(tmp_path))
    assert torch.equal(first.val.labels, again.val.labels) and torch.equal(first.val.extras["query"],
                                                                           again.val.extras["query"])
    held = {tuple(sorted(set(load_splits(cfg(tmp_path, split_seed=s)).val.labels.tolist()))) for s in range(6)}
    assert len(held) > 1


def test_train_limit_keeps_the_first_training_images(tmp_path):
    write_market(tmp_path)
    whole, limited = load_splits(cfg(tmp_path)), load_splits(cfg(tmp_path, train_limit=5))
    assert torch.equal(limited.train.labels, whole.train.labels[:5])
    assert torch.equal(limited.val.labels, whole.val.labels) and len(limited.test) == len(whole.test)


def test_second_load_reads_the_cache_and_changes_invalidate_it(tmp_path, monkeypatch):
    write_market(tmp_path)
    first = load_splits(cfg(tmp_path))
    assert (tmp_path / ".distill_cache_u8.npz").is_file()
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("decoded again"))
    assert torch.equal(load_splits(cfg(tmp_path)).test.images, first.test.images)
    opened = []
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    victim = sorted((tmp_path / "query").glob("*.jpg"))[0]
    os.utime(victim, ns=(10**18, 10**18))                                          # touched: decoded again
    load_splits(cfg(tmp_path))
    assert len(opened) == len(first.train) + len(first.val) + len(first.test)
    opened.clear()
    save(tmp_path / "bounding_box_test", 3, 6, 5000)                              # a new file: decoded again
    assert len(load_splits(cfg(tmp_path)).test) == len(first.test) + 1 and opened


@pytest.mark.parametrize("name", ["0002_c1s1_000001.jpg", "2_c1s1_000001_01.jpg", "0002_c1_000001_01.jpg",
                                  "0002_c1s1_000001_01.JPG"])
def test_a_misnamed_image_is_one_line_naming_the_file(tmp_path, monkeypatch, name):
    write_market(tmp_path)
    bad = tmp_path / "bounding_box_test" / name
    bad.write_bytes(b"")
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("the check decodes nothing"))
    with pytest.raises(ConfigError) as err:
        check_data(cfg(tmp_path))
    assert err.value.field == "data.root" and str(bad) in str(err.value) and "\n" not in str(err.value)
    assert "PPPP_cCsS_FFFFFF_BB.jpg" in str(err.value)


@pytest.mark.parametrize("missing", ["bounding_box_train", "query", "bounding_box_test"])
def test_a_missing_folder_names_it_and_the_layout(tmp_path, missing):
    write_market(tmp_path)
    import shutil
    shutil.rmtree(tmp_path / missing)
    with pytest.raises(ConfigError) as err:
        check_data(cfg(tmp_path))
    message = str(err.value)
    assert err.value.field == "data.root" and str(tmp_path / missing) in message and "\n" not in message
    assert "bounding_box_train/, query/, bounding_box_test/" in message


def test_no_root_is_one_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        check_data(DataConfig(name="market1501"))
    assert err.value.field == "data.root" and "\n" not in str(err.value)


def test_real_market_needs_751_training_ids(tmp_path):
    write_market(tmp_path)
    with pytest.raises(ConfigError) as err:
        check_data(cfg(tmp_path, name="market1501"))
    assert "holds 6 person ids; market1501 has 751" in str(err.value)


def test_real_market_at_256x128_from_the_archive_folder(tmp_path):
    folder = tmp_path / "Market-1501-v15.09.15"                       # data.root may be the folder above it
    write_market(folder, train={p: (1 + p % 6,) for p in range(2, 753)}, per_camera=1)
    info = DATA_INFO.get("market1501")
    assert (info.num_classes, info.image_size, info.task) == (751, (256, 128), "retrieval")
    splits = load_splits(cfg(tmp_path, name="market1501", val_fraction=0.1))
    assert splits.num_classes == 751 and splits.crop_padding == 10 and splits.flip
    assert splits.train.images.shape[1:] == (3, 256, 128) and splits.test.images.shape[1:] == (3, 256, 128)
    assert len(set(splits.val.labels.tolist())) == 75 and int(splits.train.labels.max()) <= 750
    # pad-and-crop on non-square images: each crop is the image shifted by at most 10 px, zeros coming in
    images = torch.arange(4 * 3 * 256 * 128, dtype=torch.float32).view(4, 3, 256, 128) + 1
    out = random_crop_flip(images, 10, False, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    padded = torch.nn.functional.pad(images, (10, 10, 10, 10))
    offsets = set()
    for i in range(4):
        # the centre pixel always comes from the image; its value (a flat index + 1) tells the shift
        y, x = divmod(int(out[i, 0, 128, 64]) - 1 - i * 3 * 256 * 128, 128)
        row, col = y - 128 + 10, x - 64 + 10
        assert 0 <= row <= 20 and 0 <= col <= 20
        assert torch.equal(out[i], padded[i, :, row:row + 256, col:col + 128])
        offsets.add((row, col))
    assert offsets != {(10, 10)}


def test_train_batches_augment_market_shaped_images(tmp_path):
    write_market(tmp_path)
    splits = load_splits(cfg(tmp_path))
    batches = TrainBatches(splits.train, 4, Normalizer(splits.mean, splits.std, "cpu", False), "cpu",
                           splits.crop_padding, splits.flip, True, torch.Generator().manual_seed(0))
    shapes = {tuple(b.images.shape) for b in batches}
    assert shapes == {(4, 3, 32, 16)} and len(batches) == len(splits.train) // 4


def test_smoke_generator_is_deterministic(tmp_path):
    write_market_smoke(str(tmp_path / "a"))
    write_market_smoke(str(tmp_path / "b"))
    for sub in ("bounding_box_train", "query", "bounding_box_test"):
        names = sorted(os.listdir(tmp_path / "a" / sub))
        assert names == sorted(os.listdir(tmp_path / "b" / sub))
        assert all((tmp_path / "a" / sub / n).read_bytes() == (tmp_path / "b" / sub / n).read_bytes() for n in names)
    gallery = os.listdir(tmp_path / "a" / "bounding_box_test")
    assert any(n.startswith("-1_") for n in gallery) and any(n.startswith("0000_") for n in gallery)


def test_smoke_set_is_written_once_and_read_by_the_market_loader(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user"))
    info = DATA_INFO.get("market1501_smoke")
    assert (info.num_classes, info.image_size, info.task) == (16, (64, 32), "retrieval")
    check_data(DataConfig(name="market1501_smoke"))                  # the driver's check writes it
    folder = tmp_path / "user" / "distill" / "market1501_smoke_v1"
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["bounding_box_test", "bounding_box_train",
                                                                      "query"]
    splits = load_splits(DataConfig(name="market1501_smoke"))
    assert splits.num_classes == 16 and splits.train.images.shape[1:] == (3, 64, 32)
    assert set(splits.train.labels.tolist()) | {0} <= set(range(16))
    assert not set(splits.val.labels.tolist()) & set(splits.train.extras["person_id"].tolist())
    assert {-1, 0} <= set(splits.test.labels.tolist()) and int(splits.test.extras["query"].sum()) > 0
    # into an empty data.root; a data.root holding other files is refused
    (tmp_path / "empty").mkdir()
    assert len(load_splits(DataConfig(name="market1501_smoke", root=str(tmp_path / "empty"))).test) == len(splits.test)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError) as err:
        check_data(DataConfig(name="market1501_smoke", root=str(tmp_path / "busy")))
    assert str(tmp_path / "busy") in str(err.value)
    assert SMOKE.num_classes == 16
