"""scikit-learn's bundled handwritten digits (8x8, 16 grey levels): a real data
set that needs no download, for smoke runs and tests. It has no official test
split, so a fixed 20% (seed 0) is kept aside as one. ``digits32`` is the same set
resized to 32x32 (bilinear, as MNIST for LeNet-5): the offline stand-in for
MNIST in DAFL's smoke runs (LeNet-5 teacher, generator images of 32x32)."""
import os

import numpy as np
import torch

from distill.data.registry import DATA_INFO, DATASETS, DataInfo, ImageSet
from distill.data.resize import resize_u8
from distill.errors import ConfigError

TEST_FRACTION = 0.2


def digits_arrays():
    """scikit-learn's ``digits.csv.gz`` read as its ``load_digits`` reads it (64 pixels, then
    the label, per line), without importing scikit-learn: that import costs every Ray
    worker and the driver over a second, more than a smoke trial's training."""
    import gzip
    from importlib.util import find_spec

    spec = find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("data.name", "digits comes with scikit-learn, which is not installed (pip install scikit-learn)")
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    with gzip.open(path, mode="rt", encoding="utf-8") as fh:
        data = np.loadtxt(fh, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)


@DATASETS.register("digits")
def load_digits(root=None):
    pixels, labels = digits_arrays()
    images = np.round(pixels * (255.0 / 16.0)).astype(np.uint8)[:, None]  # (N, 1, 8, 8)
    order = np.random.RandomState(0).permutation(len(labels))
    n_test = int(round(TEST_FRACTION * len(labels)))
    test_idx, train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
    as_set = lambda idx: ImageSet(torch.from_numpy(images[idx]), torch.from_numpy(labels[idx]))  # noqa: E731
    return as_set(train_idx), as_set(test_idx), {"num_classes": 10, "crop_padding": 1, "flip": False}


DATA_INFO.register("digits")(DataInfo(num_classes=10, in_channels=1, image_size=(8, 8), flip=False))


@DATASETS.register("digits32")
def load_digits32(root=None):
    train, test, meta = load_digits(root)
    for part in (train, test):
        part.images = resize_u8(part.images, (32, 32))
    return train, test, {**meta, "crop_padding": 2}


DATA_INFO.register("digits32")(DataInfo(num_classes=10, in_channels=1, image_size=(32, 32), flip=False))
