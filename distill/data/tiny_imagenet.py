"""Tiny-ImageNet from its ``tiny-imagenet-200`` folder: ``wnids.txt`` (200 class
ids; the class index is the line order), ``train/<wnid>/images/*.JPEG`` and
``val/images/*.JPEG`` labelled by ``val/val_annotations.txt`` (file, wnid, box).
The official val set is our **test** split; validation is held out of train as
for every data set. Images (64x64, some greyscale: converted to RGB) are
decoded once with a thread pool into uint8 tensors and cached beside the data
(``.distill_cache_u8.npz``, read with numpy, no pickle; in ``~/.cache/distill``
when the folder is read-only), keyed by every image's path, size and mtime, so
adding, removing or touching a file invalidates it. Labels are never cached.
Augmentation: pad 8 then random 64 px crop, horizontal flips (the common
Tiny-ImageNet recipe)."""
import hashlib
import os
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import List, Tuple

import numpy as np
import torch

from distill.data.registry import DATA_CHECKS, DATA_INFO, DATASETS, DataInfo, ImageSet
from distill.errors import ConfigError

FOLDER = "tiny-imagenet-200"
SIZE = 64
CACHE_NAME = ".distill_cache_u8.npz"


def _folder(root) -> str:
    if not root:
        raise ConfigError("data.root", f"tiny_imagenet needs data.root: the folder that holds {FOLDER}/")
    folder = root if os.path.basename(os.path.normpath(root)) == FOLDER else os.path.join(root, FOLDER)
    for part in ("", "wnids.txt", "train", os.path.join("val", "val_annotations.txt"), os.path.join("val", "images")):
        if not os.path.exists(os.path.join(folder, part)):
            raise ConfigError("data.root", f"{os.path.join(folder, part)} does not exist; expected the "
                                           f"{FOLDER}/ layout (wnids.txt, train/<wnid>/images, val/images, "
                                           "val/val_annotations.txt)")
    return folder


def _listing(folder: str) -> Tuple[List[str], List[Tuple[str, int]], List[Tuple[str, int]]]:
    with open(os.path.join(folder, "wnids.txt")) as fh:
        wnids = [line.strip() for line in fh if line.strip()]
    index = {w: i for i, w in enumerate(wnids)}
    train = []
    for wnid in wnids:
        images = os.path.join(folder, "train", wnid, "images")
        if not os.path.isdir(images):
            raise ConfigError("data.root", f"{images} does not exist (class {wnid} of wnids.txt)")
        train += [(os.path.join(images, f), index[wnid]) for f in sorted(os.listdir(images))
                  if f.lower().endswith((".jpeg", ".jpg", ".png"))]
    test = []
    annotations = os.path.join(folder, "val", "val_annotations.txt")
    with open(annotations) as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2 or parts[1] not in index:
                raise ConfigError("data.root", f"{annotations} line {number} is not 'file<TAB>wnid<TAB>box' "
                                               f"with a wnid of wnids.txt: {line.strip()[:80]!r}")
            test.append((os.path.join(folder, "val", "images", parts[0]), index[parts[1]]))
    return wnids, train, test


def _decode(path: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image.size != (SIZE, SIZE):
                image = image.resize((SIZE, SIZE), Image.BILINEAR)
            return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise ConfigError("data.root", f"{path} is not a readable image ({type(err).__name__})") from None


def _decode_all(paths: List[str]) -> np.ndarray:
    """Decode into one preallocated (N, 3, 64, 64) array; PIL releases the GIL, so threads help."""
    out = np.empty((len(paths), 3, SIZE, SIZE), np.uint8)

    def fill(i: int) -> None:
        out[i] = _decode(paths[i])

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        for _ in pool.map(fill, range(len(paths)), chunksize=256):
            pass
    return out


def _signature(folder: str, train, test) -> str:
    """Key of the cache: every image's path (in listing order, which fixes the labels' order), size and
    mtime. Labels are not cached: they always come from wnids.txt and val_annotations.txt."""
    digest = hashlib.sha256(f"v2:{len(train)}:{len(test)}".encode())
    for path, _ in train + test:
        try:
            st = os.stat(path)
        except OSError as err:
            raise ConfigError("data.root", f"{path} cannot be read ({type(err).__name__}); "
                                           "listed by the tiny-imagenet-200 layout") from None
        digest.update(f"\n{os.path.relpath(path, folder)}\t{st.st_size}\t{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def _cache_paths(folder: str) -> List[str]:
    key = hashlib.sha256(os.path.abspath(folder).encode()).hexdigest()[:12]
    user = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return [os.path.join(folder, CACHE_NAME), os.path.join(user, "distill", f"tiny_imagenet_{key}.npz")]


def _read_cache(path: str, signature: str, n_train: int, n_test: int):
    """The cached (train, test) images, or None when absent, stale, or unreadable (e.g. half-written)."""
    if not os.path.isfile(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as cached:
            if str(cached["signature"]) != signature:
                return None
            train_x, test_x = cached["train_x"], cached["test_x"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if train_x.shape != (n_train, 3, SIZE, SIZE) or test_x.shape != (n_test, 3, SIZE, SIZE):
        return None
    return train_x, test_x


def _write_cache(path: str, signature: str, train_x: np.ndarray, test_x: np.ndarray) -> bool:
    """Atomic: a private temporary file renamed into place, so concurrent trials never read half a file."""
    tmp = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".distill_cache_", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, signature=np.asarray(signature), train_x=train_x, test_x=test_x)
        os.replace(tmp, path)
        return True
    except OSError:   # a read-only data folder (or a full disk): the caller tries the next place
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        return False


@DATASETS.register("tiny_imagenet")
def load_tiny_imagenet(root):
    folder = _folder(root)
    _, train, test = _listing(folder)
    signature = _signature(folder, train, test)
    cached = None
    for path in _cache_paths(folder):
        cached = _read_cache(path, signature, len(train), len(test))
        if cached is not None:
            break
    if cached is None:
        cached = _decode_all([p for p, _ in train]), _decode_all([p for p, _ in test])
        for path in _cache_paths(folder):
            if _write_cache(path, signature, *cached):
                break
    train_x, test_x = cached
    labels = lambda items: torch.tensor([label for _, label in items], dtype=torch.int64)  # noqa: E731
    meta = {"num_classes": 200, "crop_padding": 8, "flip": True}   # 64 px: pad 8, random 64 crop, flips
    return (ImageSet(torch.from_numpy(np.ascontiguousarray(train_x)), labels(train)),
            ImageSet(torch.from_numpy(np.ascontiguousarray(test_x)), labels(test)), meta)


DATA_CHECKS.register("tiny_imagenet")(_folder)
DATA_INFO.register("tiny_imagenet")(DataInfo(num_classes=200, in_channels=3, image_size=(SIZE, SIZE)))
