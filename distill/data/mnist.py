"""MNIST read from its IDX files (LeCun's distribution, also torchvision's
``MNIST/raw``): ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped (``.gz``)
or not, under ``data.root`` or ``data.root/MNIST/raw``. An IDX file is a
big-endian header (magic 2051 for images: unsigned bytes, 3 dimensions; 2049 for
labels: unsigned bytes, 1 dimension; then one uint32 size per dimension) and the
bytes; both are checked, so a file that is not IDX is one line naming it.

The official t10k set is our **test** split; validation is held out of train as
for every data set. ``mnist`` is 28x28; ``mnist32`` resizes to 32x32 (bilinear,
as the ``Resize(32)`` of DAFL's official pipeline) for LeNet-5. No flips, no crop
padding; normalised with the published (0.1307, 0.3081) of that pipeline."""
import gzip
import os
import zlib
from typing import Dict, Tuple

import numpy as np
import torch

from distill.data.registry import DATA_CHECKS, DATA_INFO, DATASETS, DataInfo, ImageSet
from distill.data.resize import resize_u8
from distill.errors import ConfigError

SIDE = 28
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
SPLIT_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
FILE_NAMES = [name for pair in SPLIT_FILES.values() for name in pair]
META = {"num_classes": 10, "crop_padding": 0, "flip": False, "mean": (0.1307,), "std": (0.3081,)}


def _folders(root: str):
    return [root, os.path.join(root, "MNIST", "raw")]


def find_files(root) -> Dict[str, str]:
    """Each IDX file's path (the uncompressed one where both are there), or one ConfigError line."""
    if not root:
        raise ConfigError("data.root", "mnist needs data.root: the folder that holds the MNIST IDX files "
                                       "(train-images-idx3-ubyte[.gz] ...) or torchvision's MNIST/raw/")
    if not os.path.isdir(root):
        raise ConfigError("data.root", f"{root} does not exist; expected the MNIST IDX files in it or in MNIST/raw/")
    found, missing = {}, []
    for name in FILE_NAMES:
        candidates = [os.path.join(folder, name + ext) for folder in _folders(root) for ext in ("", ".gz")]
        path = next((p for p in candidates if os.path.isfile(p)), None)
        if path is None:
            missing.append(f"{name}[.gz]")
        else:
            found[name] = path
    if missing:
        raise ConfigError("data.root", f"{root} is incomplete: missing {', '.join(missing)} "
                                       f"(looked in {root} and {os.path.join(root, 'MNIST', 'raw')})")
    return found


def read_idx(path: str, magic: int) -> np.ndarray:
    """The array of an IDX file of unsigned bytes, its header checked against ``magic``."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        else:
            with open(path, "rb") as fh:
                data = fh.read()
    except (OSError, EOFError, zlib.error) as err:   # gzip.BadGzipFile is an OSError
        raise ConfigError("data.root", f"{path} cannot be read as {'gzip' if path.endswith('.gz') else 'a file'} "
                                       f"({type(err).__name__})") from None
    kind = "images" if magic == IMAGE_MAGIC else "labels"
    got = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if got != magic:
        raise ConfigError("data.root", f"{path} is not an IDX {kind} file (magic {got}, expected {magic})")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ConfigError("data.root", f"{path} is not an IDX {kind} file (its header is cut short)")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    body = len(data) - header
    if body != int(np.prod(dims)):
        raise ConfigError("data.root", f"{path} is not a whole IDX {kind} file: its header gives sizes "
                                       f"{'x'.join(map(str, dims))} ({int(np.prod(dims))} bytes), it holds {body}")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def read_split(files: Dict[str, str], split: str) -> ImageSet:
    image_name, label_name = SPLIT_FILES[split]
    images = read_idx(files[image_name], IMAGE_MAGIC)
    labels = read_idx(files[label_name], LABEL_MAGIC)
    if images.shape[1:] != (SIDE, SIDE):
        raise ConfigError("data.root", f"{files[image_name]} holds {images.shape[1]}x{images.shape[2]} images, "
                                       f"MNIST's are {SIDE}x{SIDE}")
    if not len(images):
        raise ConfigError("data.root", f"{files[image_name]} holds no images")
    if len(labels) != len(images):
        raise ConfigError("data.root", f"{files[label_name]} holds {len(labels)} labels for the {len(images)} "
                                       f"images of {files[image_name]}")
    if int(labels.max()) > 9:
        raise ConfigError("data.root", f"{files[label_name]} holds label {int(labels.max())}; MNIST's are 0..9")
    return ImageSet(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))


def _loader(size: int):
    def load(root) -> Tuple[ImageSet, ImageSet, dict]:
        files = find_files(root)
        train, test = read_split(files, "train"), read_split(files, "test")
        for part in (train, test):
            part.images = resize_u8(part.images, (size, size))
        return train, test, dict(META)
    return load


for _name, _size in (("mnist", SIDE), ("mnist32", 32)):
    DATASETS.register(_name)(_loader(_size))
    DATA_CHECKS.register(_name)(find_files)
    DATA_INFO.register(_name)(DataInfo(num_classes=10, in_channels=1, image_size=(_size, _size)))
