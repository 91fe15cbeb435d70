"""scikit-learn's bundled handwritten digits (8x8, 16 grey levels): a real data
set that needs no download, for smoke runs and tests. It has no official test
split, so a fixed 20% (seed 0) is kept aside as one. ``digits32`` is the same set
resized to 32x32 (bilinear, as MNIST for LeNet-5): the offline stand-in for
MNIST in DAFL's smoke runs (LeNet-5 teacher, generator images of 32x32)."""
import numpy as np
import torch

from distill.data.registry import DATA_INFO, DATASETS, DataInfo, ImageSet
from distill.data.resize import resize_u8

TEST_FRACTION = 0.2


@DATASETS.register("digits")
def load_digits(root=None):
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]  # (N, 1, 8, 8)
    labels = bunch.target.astype(np.int64)
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
