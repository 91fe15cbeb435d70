"""MNIST (IDX files, gzipped or not) and USPS (torchvision's bzip2 libsvm files), written
small here in their real on-disk formats and read by the real loaders."""
import bz2
import gzip
import os
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from distill.config import DataConfig
from distill.data import DATA_INFO, load_splits
from distill.data.registry import check_data
from distill.errors import ConfigError

N_TRAIN, N_TEST = 40, 12
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# -- MNIST: IDX files ---------------------------------------------------------------
def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An IDX file: big-endian magic (0x0000, type 0x08 = ubyte, ndim), one big-endian uint32 a dimension, data."""
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.astype(np.uint8).tobytes()


def write_idx(path, array, magic, gz):
    data = idx_bytes(array, magic)
    with (gzip.open(path + ".gz", "wb") if gz else open(path, "wb")) as fh:
        fh.write(data)


def mnist_images(ids, rng):
    """(N, 28, 28): the image's id in the first two pixels of row 0, a marker at row 2, column 5
    (pins row-major order), random pixels elsewhere."""
    images = rng.integers(0, 256, size=(len(ids), 28, 28), dtype=np.uint8)
    ids = np.asarray(ids)
    images[:, 0, 0] = ids % 256
    images[:, 0, 1] = ids // 256
    images[:, 2, 5] = 7
    return images


def make_mnist(root, gz=True, layout="flat", n_train=N_TRAIN, n_test=N_TEST):
    """``gz``: True, False, or "mixed" (the image files gzipped, the label files not)."""
    folder = root if layout == "flat" else os.path.join(root, "MNIST", "raw")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    train_ids, test_ids = np.arange(n_train), np.arange(1000, 1000 + n_test)
    for prefix, ids, label in (("train", train_ids, lambda i: i * 3 % 10), ("t10k", test_ids, lambda i: (i + 1) % 10)):
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte"), mnist_images(ids, rng), 2051, gz is not False)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"), label(ids).astype(np.uint8), 2049, gz is True)
    return folder


def ids_of(images):
    return (images[:, 0, 0, 0].long() + 256 * images[:, 0, 0, 1].long()).tolist()


def cfg(name, root, **kw):
    return DataConfig(name=name, root=str(root) if root is not None else None, **kw)


@pytest.mark.parametrize("gz", [True, False, "mixed"])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_mnist_reads_the_idx_files(tmp_path, gz, layout):
    make_mnist(str(tmp_path), gz=gz, layout=layout)
    splits = load_splits(cfg("mnist", tmp_path, val_fraction=0.25))
    assert splits.num_classes == 10 and splits.in_channels == 1
    n_val = round(0.25 * N_TRAIN)
    for part, n in ((splits.train, N_TRAIN - n_val), (splits.val, n_val), (splits.test, N_TEST)):
        assert part.images.shape == (n, 1, 28, 28) and part.images.dtype == torch.uint8
        assert part.labels.shape == (n,) and part.labels.dtype == torch.int64
        assert torch.all(part.images[:, 0, 2, 5] == 7)      # row-major, as the IDX format stores it
    for part in (splits.train, splits.val):
        assert [i * 3 % 10 for i in ids_of(part.images)] == part.labels.tolist()
    assert sorted(ids_of(splits.train.images) + ids_of(splits.val.images)) == list(range(N_TRAIN))
    # the official t10k set is the test split, in file order
    assert ids_of(splits.test.images) == list(range(1000, 1000 + N_TEST))
    assert splits.test.labels.tolist() == [(i + 1) % 10 for i in range(1000, 1000 + N_TEST)]
    # no flips, no crop padding; the official pipeline's normalisation
    assert splits.flip is False and splits.crop_padding == 0
    assert splits.mean == (0.1307,) and splits.std == (0.3081,)


def test_mnist_pixels_are_the_files_bytes(tmp_path):
    folder = make_mnist(str(tmp_path), gz=False)
    with open(os.path.join(folder, "t10k-images-idx3-ubyte"), "rb") as fh:
        raw = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(N_TEST, 28, 28)
    splits = load_splits(cfg("mnist", tmp_path))
    assert torch.equal(splits.test.images[:, 0], torch.from_numpy(raw.copy()))


def test_mnist32_is_the_bilinear_resize(tmp_path):
    make_mnist(str(tmp_path))
    small = load_splits(cfg("mnist", tmp_path))
    big = load_splits(cfg("mnist32", tmp_path))
    assert DATA_INFO.get("mnist").image_size == (28, 28) and DATA_INFO.get("mnist32").image_size == (32, 32)
    for a, b in ((small.train, big.train), (small.val, big.val), (small.test, big.test)):
        assert b.images.shape == (len(a), 1, 32, 32) and b.images.dtype == torch.uint8
        assert torch.equal(a.labels, b.labels)   # the same images, the same split
        expected = F.interpolate(a.images.float(), size=(32, 32), mode="bilinear", align_corners=False,
                                 antialias=False).round().clamp(0, 255).to(torch.uint8)
        assert torch.equal(b.images, expected)
    # torchvision's Resize(32) on the PIL image (the official DAFL pipeline) agrees within one grey level
    for image, resized in zip(small.test.images[:4, 0], big.test.images[:4, 0]):
        pil = np.asarray(Image.fromarray(image.numpy(), "L").resize((32, 32), Image.BILINEAR), dtype=np.int64)
        assert np.abs(pil - resized.numpy().astype(np.int64)).max() <= 1
    assert big.mean == (0.1307,) and big.std == (0.3081,) and big.flip is False and big.crop_padding == 0


def test_a_constant_image_stays_constant_when_resized(tmp_path):
    folder = str(tmp_path)
    write_idx(os.path.join(folder, "train-images-idx3-ubyte"), np.full((3, 28, 28), 93, np.uint8), 2051, False)
    write_idx(os.path.join(folder, "train-labels-idx1-ubyte"), np.array([1, 2, 3], np.uint8), 2049, False)
    write_idx(os.path.join(folder, "t10k-images-idx3-ubyte"), np.full((1, 28, 28), 255, np.uint8), 2051, True)
    write_idx(os.path.join(folder, "t10k-labels-idx1-ubyte"), np.array([9], np.uint8), 2049, True)
    splits = load_splits(cfg("mnist32", tmp_path, val_fraction=0.34))
    assert torch.all(splits.train.images == 93) and torch.all(splits.test.images == 255)
    assert splits.test.labels.tolist() == [9]


@pytest.mark.parametrize("missing", MNIST_FILES)
def test_mnist_missing_file_is_one_line_naming_it(tmp_path, missing):
    folder = make_mnist(str(tmp_path))
    os.remove(os.path.join(folder, missing + ".gz"))
    for name in ("mnist", "mnist32"):
        with pytest.raises(ConfigError) as err:
            check_data(cfg(name, tmp_path))
        assert err.value.field == "data.root" and missing in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("root", [None, "absent"])
def test_mnist_without_its_folder_names_data_root(tmp_path, root):
    with pytest.raises(ConfigError) as err:
        check_data(cfg("mnist", tmp_path / root if root else None))
    assert err.value.field == "data.root" and "\n" not in str(err.value)


def _corrupt(path, data, gz):
    with (gzip.open(path, "wb") if gz else open(path, "wb")) as fh:
        fh.write(data)


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("fault", ["label magic on images", "image magic on labels", "not idx", "body cut short",
                                   "header cut short", "28x27 images", "labels for fewer images"])
def test_mnist_corrupt_file_is_one_line_naming_it(tmp_path, gz, fault):
    folder = make_mnist(str(tmp_path), gz=gz)
    ext = ".gz" if gz else ""
    images = os.path.join(folder, "train-images-idx3-ubyte" + ext)
    labels = os.path.join(folder, "train-labels-idx1-ubyte" + ext)
    good = idx_bytes(np.zeros((N_TRAIN, 28, 28), np.uint8), 2051)
    target, data = {
        "label magic on images": (images, idx_bytes(np.zeros((N_TRAIN, 28, 28), np.uint8), 2049)),
        "image magic on labels": (labels, idx_bytes(np.zeros((N_TRAIN, 1, 1), np.uint8), 2051)),
        "not idx": (images, b"PK\x03\x04 a zip file, not IDX" * 10),
        "body cut short": (images, good[:-5]),
        "header cut short": (images, good[:10]),
        "28x27 images": (images, idx_bytes(np.zeros((N_TRAIN, 28, 27), np.uint8), 2051)),
        "labels for fewer images": (labels, idx_bytes(np.zeros(N_TRAIN - 1, np.uint8), 2049)),
    }[fault]
    _corrupt(target, data, gz)
    with pytest.raises(ConfigError) as err:
        load_splits(cfg("mnist", tmp_path))
    assert err.value.field == "data.root" and target in str(err.value) and "\n" not in str(err.value)


def test_mnist_gz_that_is_not_gzip_names_the_file(tmp_path):
    folder = make_mnist(str(tmp_path))
    bad = os.path.join(folder, "t10k-labels-idx1-ubyte.gz")
    with open(bad, "wb") as fh:
        fh.write(idx_bytes(np.zeros(N_TEST, np.uint8), 2049))   # IDX bytes, but not gzipped
    with pytest.raises(ConfigError) as err:
        load_splits(cfg("mnist", tmp_path))
    assert err.value.field == "data.root" and bad in str(err.value) and "gzip" in str(err.value)


def test_mnist_label_out_of_range_names_the_file(tmp_path):
    folder = make_mnist(str(tmp_path), gz=False)
    bad = os.path.join(folder, "t10k-labels-idx1-ubyte")
    _corrupt(bad, idx_bytes(np.full(N_TEST, 10, np.uint8), 2049), False)
    with pytest.raises(ConfigError) as err:
        load_splits(cfg("mnist", tmp_path))
    assert bad in str(err.value) and "label 10" in str(err.value)


# -- USPS: bzip2 libsvm files ------------------------------------------------------------
USPS_TRAIN, USPS_TEST = 30, 9


def usps_values(i):
    """256 values in [-1, 1] for image i: fixed values at the first pixels (the mapping), a
    marker at row 3, column 4 (pins row-major order), and the id in pixels 1 and 2."""
    v = np.linspace(-1, 1, 256, dtype=np.float32)[::-1].copy()
    v[0] = -1.0                                   # -> 0
    v[1], v[2] = (i % 16) / 8 - 1, (i // 16) / 8 - 1   # -> id digits, (k/8) * 127.5 truncated
    v[3] = 1.0                                    # -> 255
    v[4] = 0.0                                    # -> 127 (127.5, truncated as torchvision)
    v[5] = 0.5                                    # -> 191 (191.25)
    v[3 * 16 + 4] = -0.5                          # -> 63 (63.75)
    return v


def usps_line(label, values):
    return f"{label} " + " ".join(f"{k + 1}:{v:.6f}" for k, v in enumerate(values))


def make_usps(root, n_train=USPS_TRAIN, n_test=USPS_TEST):
    os.makedirs(root, exist_ok=True)
    for name, ids, label in (("usps.bz2", range(n_train), lambda i: i % 10 + 1),
                             ("usps.t.bz2", range(100, 100 + n_test), lambda i: (i + 5) % 10 + 1)):
        with bz2.open(os.path.join(root, name), "wb") as fh:
            fh.write("".join(usps_line(label(i), usps_values(i)) + " \n" for i in ids).encode())
    return root


def usps_id(image):
    return round(int(image[0, 0, 1]) / 127.5 * 8) + 16 * round(int(image[0, 0, 2]) / 127.5 * 8)


def test_usps_reads_the_bzip2_libsvm_files(tmp_path):
    make_usps(str(tmp_path))
    splits = load_splits(cfg("usps", tmp_path, val_fraction=0.2))
    assert DATA_INFO.get("usps").image_size == (16, 16) and DATA_INFO.get("usps").in_channels == 1
    n_val = round(0.2 * USPS_TRAIN)
    for part, n in ((splits.train, USPS_TRAIN - n_val), (splits.val, n_val), (splits.test, USPS_TEST)):
        assert part.images.shape == (n, 1, 16, 16) and part.images.dtype == torch.uint8
        assert part.labels.dtype == torch.int64
        assert part.images[:, 0, 0, :6].tolist() == [[0, int(r[0, 0, 1]), int(r[0, 0, 2]), 255, 127, 191]
                                                     for r in part.images]
        assert torch.all(part.images[:, 0, 3, 4] == 63)
    for part in (splits.train, splits.val):   # labels 1..10 in the file, 0..9 here
        assert part.labels.tolist() == [usps_id(im) % 10 for im in part.images]
    assert sorted(usps_id(im) for im in torch.cat([splits.train.images, splits.val.images])) == list(range(USPS_TRAIN))
    # usps.t.bz2 is the test split
    assert [usps_id(im) for im in splits.test.images] == list(range(100, 100 + USPS_TEST))
    assert splits.test.labels.tolist() == [(i + 5) % 10 for i in range(100, 100 + USPS_TEST)]
    assert splits.flip is False and splits.crop_padding == 0
    x = splits.train.images.double() / 255
    assert splits.mean == pytest.approx([x.mean().item()]) and splits.std == pytest.approx([x.std().item()])


def test_usps_pixels_follow_torchvisions_mapping(tmp_path):
    make_usps(str(tmp_path))
    splits = load_splits(cfg("usps", tmp_path))
    values = np.stack([usps_values(i) for i in range(100, 100 + USPS_TEST)])
    values = np.asarray([[float(f"{v:.6f}") for v in row] for row in values], np.float32)   # as written
    expected = ((values + 1) / 2 * 255).astype(np.uint8).reshape(-1, 1, 16, 16)
    assert torch.equal(splits.test.images, torch.from_numpy(expected))


def test_usps32_is_the_bilinear_resize(tmp_path):
    make_usps(str(tmp_path))
    small = load_splits(cfg("usps", tmp_path))
    big = load_splits(cfg("usps32", tmp_path))
    assert DATA_INFO.get("usps32").image_size == (32, 32)
    assert big.test.images.shape == (USPS_TEST, 1, 32, 32) and big.test.images.dtype == torch.uint8
    expected = F.interpolate(small.test.images.float(), size=(32, 32), mode="bilinear", align_corners=False,
                             antialias=False).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(big.test.images, expected) and torch.equal(big.test.labels, small.test.labels)


def test_usps_sparse_line_leaves_missing_pixels_at_zero(tmp_path):
    root = make_usps(str(tmp_path))
    with bz2.open(os.path.join(root, "usps.t.bz2"), "wb") as fh:
        fh.write(b"3 1:1.0 17:-1.0\n")   # libsvm omits zeros: every other pixel is 0.0 -> 127
    test = load_splits(cfg("usps", tmp_path)).test
    assert test.labels.tolist() == [2]
    assert int(test.images[0, 0, 0, 0]) == 255 and int(test.images[0, 0, 1, 0]) == 0
    assert int((test.images == 127).sum()) == 254


@pytest.mark.parametrize("missing", ["usps.bz2", "usps.t.bz2"])
@pytest.mark.parametrize("name", ["usps", "usps32"])
def test_usps_missing_file_is_one_line_naming_it(tmp_path, missing, name):
    make_usps(str(tmp_path))
    os.remove(tmp_path / missing)
    with pytest.raises(ConfigError) as err:
        check_data(cfg(name, tmp_path))
    assert err.value.field == "data.root" and missing in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("root", [None, "absent"])
def test_usps_without_its_folder_names_data_root(tmp_path, root):
    with pytest.raises(ConfigError) as err:
        check_data(cfg("usps", tmp_path / root if root else None))
    assert err.value.field == "data.root" and "\n" not in str(err.value)


def test_usps_file_that_is_not_bzip2_names_it(tmp_path):
    make_usps(str(tmp_path))
    bad = tmp_path / "usps.bz2"
    bad.write_text("1 1:-1.0 2:-1.0\n")   # plain text, not compressed
    with pytest.raises(ConfigError) as err:
        load_splits(cfg("usps", tmp_path))
    assert str(bad) in str(err.value) and "bzip2" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("line, why", [("11 1:0.5", "label 11"), ("0 1:0.5", "label 0"), ("x 1:0.5", "ValueError"),
                                       ("2 1:0.5 257:0.1", "index 257"), ("2 1:0.5 7", "IndexError"),
                                       ("2 1:abc", "ValueError")])
def test_usps_bad_line_names_the_file_and_line(tmp_path, line, why):
    root = make_usps(str(tmp_path))
    with bz2.open(os.path.join(root, "usps.t.bz2"), "wb") as fh:
        fh.write(f"{usps_line(1, usps_values(0))}\n{line}\n".encode())
    with pytest.raises(ConfigError) as err:
        load_splits(cfg("usps", tmp_path))
    message = str(err.value)
    assert os.path.join(root, "usps.t.bz2") + " line 2" in message and why in message and "\n" not in message
