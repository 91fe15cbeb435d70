"""USPS handwritten digits in torchvision's on-disk format: ``usps.bz2`` (train,
7291 images) and ``usps.t.bz2`` (test, 2007) under ``data.root``, each a bzip2 file
of libsvm lines ``label 1:v1 2:v2 ... 256:v256``: labels 1..10 (digit + 1), values
in [-1, 1], one 16x16 image row-major per line. As torchvision: label - 1, and
pixel = uint8((v + 1) / 2 * 255) computed in float32 (truncated, not rounded). An
index a line leaves out is 0.0, as libsvm's sparse format means (mid grey).

The official test file is our **test** split; validation is held out of train as
for every data set. ``usps`` is 16x16; ``usps32`` resizes to 32x32 (bilinear):
the "alternative data" of DAFL's MNIST baselines (``usps28``: 28x28, for HintonNet's MNIST). No flips, no crop padding;
normalised with the training split's statistics."""
import bz2
import os
from typing import Dict, Tuple

import numpy as np
import torch

from distill.data.registry import DATA_CHECKS, DATA_INFO, DATASETS, DataInfo, ImageSet
from distill.data.resize import resize_u8
from distill.errors import ConfigError

SIDE = 16
PIXELS = SIDE * SIDE
FILES = {"train": "usps.bz2", "test": "usps.t.bz2"}
META = {"num_classes": 10, "crop_padding": 0, "flip": False}


def find_files(root) -> Dict[str, str]:
    if not root:
        raise ConfigError("data.root", "usps needs data.root: the folder that holds torchvision's usps.bz2 and usps.t.bz2")
    if not os.path.isdir(root):
        raise ConfigError("data.root", f"{root} does not exist; expected torchvision's usps.bz2 and usps.t.bz2 in it")
    paths = {split: os.path.join(root, name) for split, name in FILES.items()}
    missing = [FILES[split] for split, path in paths.items() if not os.path.isfile(path)]
    if missing:
        raise ConfigError("data.root", f"{root} is incomplete: missing {', '.join(missing)}")
    return paths


def _bad_line(path: str, number: int, why: str) -> ConfigError:
    return ConfigError("data.root", f"{path} line {number} is not a USPS libsvm line "
                                    f"('label 1:v ... {PIXELS}:v', labels 1..10): {why}")


def read_libsvm(path: str) -> ImageSet:
    try:
        with bz2.open(path, "rb") as fh:
            text = fh.read().decode("ascii")
    except (OSError, EOFError, ValueError) as err:   # not bzip2 / cut short / not text
        raise ConfigError("data.root", f"{path} is not a readable bzip2 text file ({type(err).__name__})") from None
    rows, labels = [], []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            label = int(parts[0])
            pairs = [token.split(":") for token in parts[1:]]
            index = np.array([int(p[0]) for p in pairs], dtype=np.int64)
            values = np.array([float(p[1]) for p in pairs], dtype=np.float32)
        except (ValueError, IndexError) as err:
            raise _bad_line(path, number, f"{type(err).__name__}: {str(err)[:60]}") from None
        if not 1 <= label <= 10:
            raise _bad_line(path, number, f"label {label}")
        if len(index) and (index.min() < 1 or index.max() > PIXELS):
            raise _bad_line(path, number, f"index {int(index.min() if index.min() < 1 else index.max())}")
        row = np.zeros(PIXELS, np.float32)
        row[index - 1] = values
        rows.append(row)
        labels.append(label - 1)
    if not rows:
        raise ConfigError("data.root", f"{path} holds no images")
    dense = np.stack(rows)
    pixels = np.clip((dense + 1) / 2 * 255, 0, 255).astype(np.uint8)   # torchvision's mapping, float32
    return ImageSet(torch.from_numpy(pixels.reshape(-1, 1, SIDE, SIDE)), torch.tensor(labels, dtype=torch.int64))


def _loader(size: int):
    def load(root) -> Tuple[ImageSet, ImageSet, dict]:
        paths = find_files(root)
        train, test = read_libsvm(paths["train"]), read_libsvm(paths["test"])
        for part in (train, test):
            part.images = resize_u8(part.images, (size, size))
        return train, test, dict(META)
    return load


for _name, _size in (("usps", SIDE), ("usps28", 28), ("usps32", 32)):
    DATASETS.register(_name)(_loader(_size))
    DATA_CHECKS.register(_name)(find_files)
    DATA_INFO.register(_name)(DataInfo(num_classes=10, in_channels=1, image_size=(_size, _size), flip=False))
