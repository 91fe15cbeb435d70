"""Data sets distributed as the four IDX files of LeCun's MNIST layout (MNIST,
Fashion-MNIST): ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped (``.gz``) or
not. An IDX file is a big-endian header (magic 2051 for images: unsigned bytes, 3
dimensions; 2049 for labels: unsigned bytes, 1 dimension; then one uint32 size per
dimension) and the bytes; both are checked, so a file that is not IDX is one line
naming it. The t10k set is the **test** split.

An ``IdxLayout`` says where a data set's files may be: under ``data.root`` or its
torchvision folder (``data.root/<torchvision>/raw``), and, when ``data.root`` is not
set, in ``default_folders`` (a system package's folder, a cache), in order."""
import gzip
import os
import zlib
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from distill.data.registry import ImageSet
from distill.errors import ConfigError

SIDE = 28
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
SPLIT_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
FILE_NAMES = [name for pair in SPLIT_FILES.values() for name in pair]


@dataclass(frozen=True)
class IdxLayout:
    title: str                              # how messages name the data set ("MNIST", "Fashion-MNIST")
    torchvision: str                        # torchvision's folder under a root ("MNIST", "FashionMNIST")
    default_folders: Tuple[str, ...] = ()   # searched, in order, when data.root is not set
    provided_by: str = ""                   # where the files come from when none is found

    def folders(self, root: str) -> List[str]:
        return [root, os.path.join(root, self.torchvision, "raw")]


def _complete(folder: str, layout: IdxLayout) -> Optional[Dict[str, str]]:
    found = {}
    for name in FILE_NAMES:
        candidates = [os.path.join(f, name + ext) for f in layout.folders(folder) for ext in ("", ".gz")]
        path = next((p for p in candidates if os.path.isfile(p)), None)
        if path is None:
            return None
        found[name] = path
    return found


def find_files(root, layout: IdxLayout) -> Dict[str, str]:
    """Each IDX file's path (the uncompressed one where both are there), or one ConfigError line."""
    if not root:
        for folder in layout.default_folders:
            found = _complete(os.path.expanduser(folder), layout)
            if found:
                return found
        what = (f"the folder that holds the {layout.title} IDX files (train-images-idx3-ubyte[.gz] ...) "
                f"or torchvision's {layout.torchvision}/raw/")
        if not layout.default_folders:
            raise ConfigError("data.root", f"{layout.title} needs data.root: {what}")
        where = " nor in ".join(os.path.expanduser(f) for f in layout.default_folders)
        hint = f"; {layout.provided_by}" if layout.provided_by else ""
        raise ConfigError("data.root", f"the {layout.title} IDX files are not in {where}{hint}; "
                                       f"or set data.root to {what}")
    if not os.path.isdir(root):
        raise ConfigError("data.root", f"{root} does not exist; expected the {layout.title} IDX files in it or in "
                                       f"{layout.torchvision}/raw/")
    found = _complete(root, layout)
    if found is None:
        missing = [f"{name}[.gz]" for name in FILE_NAMES
                   if not any(os.path.isfile(os.path.join(f, name + ext)) for f in layout.folders(root)
                              for ext in ("", ".gz"))]
        raise ConfigError("data.root", f"{root} is incomplete: missing {', '.join(missing)} "
                                       f"(looked in {root} and {os.path.join(root, layout.torchvision, 'raw')})")
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


def read_split(files: Dict[str, str], split: str, title: str) -> ImageSet:
    image_name, label_name = SPLIT_FILES[split]
    images = read_idx(files[image_name], IMAGE_MAGIC)
    labels = read_idx(files[label_name], LABEL_MAGIC)
    if images.shape[1:] != (SIDE, SIDE):
        raise ConfigError("data.root", f"{files[image_name]} holds {images.shape[1]}x{images.shape[2]} images, "
                                       f"{title}'s are {SIDE}x{SIDE}")
    if not len(images):
        raise ConfigError("data.root", f"{files[image_name]} holds no images")
    if len(labels) != len(images):
        raise ConfigError("data.root", f"{files[label_name]} holds {len(labels)} labels for the {len(images)} "
                                       f"images of {files[image_name]}")
    if int(labels.max()) > 9:
        raise ConfigError("data.root", f"{files[label_name]} holds label {int(labels.max())}; {title}'s are 0..9")
    return ImageSet(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))


def read_both(root, layout: IdxLayout) -> Tuple[ImageSet, ImageSet]:
    """(train, test) read and checked."""
    files = find_files(root, layout)
    return read_split(files, "train", layout.title), read_split(files, "test", layout.title)


def resized_loader(layout_of: Callable[[], IdxLayout], size: int, meta: dict):
    """A data set loader: both splits read, resized (bilinear) to ``size`` x ``size``, with ``meta``.
    ``layout_of`` is called at load time, so a module's layout can be swapped (tests)."""
    from distill.data.resize import resize_u8

    def load(root) -> Tuple[ImageSet, ImageSet, dict]:
        train, test = read_both(root, layout_of())
        for part in (train, test):
            part.images = resize_u8(part.images, (size, size))
        return train, test, dict(meta)
    return load
