"""Tiny-ImageNet from its ``tiny-imagenet-200`` folder: ``wnids.txt`` (200 class
ids; the class index is the line order), ``train/<wnid>/images/*.JPEG`` and
``val/images/*.JPEG`` labelled by ``val/val_annotations.txt`` (file, wnid, box).
The official val set is our **test** split; validation is held out of train as
for every data set. Images (64x64, some greyscale: converted to RGB) are
decoded once with a thread pool into uint8 tensors and cached beside the data
(``.distill_cache_u8.npz``; in ``~/.cache/distill`` when the folder is
read-only), invalidated when the files' count or newest mtime changes."""
import hashlib
import os
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
    except (OSError, UnidentifiedImageError) as err:
        raise ConfigError("data.root", f"{path} is not a readable image ({type(err).__name__})") from None


def _decode_all(items) -> Tuple[np.ndarray, np.ndarray]:
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:   # PIL releases the GIL
        images = list(pool.map(_decode, [path for path, _ in items]))
    stacked = np.stack(images) if images else np.zeros((0, 3, SIZE, SIZE), np.uint8)
    return stacked, np.asarray([label for _, label in items], dtype=np.int64)


def _signature(train, test) -> str:
    paths = [p for p, _ in train + test]
    newest = max((os.path.getmtime(p) for p in paths), default=0.0)
    return hashlib.sha256(f"{len(paths)}:{newest}:{paths[:1]}{paths[-1:]}".encode()).hexdigest()[:16]


def _cache_paths(folder: str) -> List[str]:
    key = hashlib.sha256(os.path.abspath(folder).encode()).hexdigest()[:12]
    return [os.path.join(folder, CACHE_NAME),
            os.path.join(os.path.expanduser("~"), ".cache", "distill", f"tiny_imagenet_{key}.npz")]


@DATASETS.register("tiny_imagenet")
def load_tiny_imagenet(root):
    folder = _folder(root)
    _, train, test = _listing(folder)
    signature = _signature(train, test)
    arrays = None
    for path in _cache_paths(folder):
        if os.path.isfile(path):
            with np.load(path, allow_pickle=False) as cached:
                if str(cached["signature"]) == signature:
                    arrays = {k: cached[k] for k in ("train_x", "train_y", "test_x", "test_y")}
                    break
    if arrays is None:
        train_x, train_y = _decode_all(train)
        test_x, test_y = _decode_all(test)
        arrays = {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}
        for path in _cache_paths(folder):
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                tmp = path + ".tmp.npz"
                np.savez(tmp, signature=np.asarray(signature), **arrays)
                os.replace(tmp, path)
                break
            except OSError:   # a read-only data folder: try the user cache
                continue
    meta = {"num_classes": 200, "crop_padding": 8, "flip": True}
    as_set = lambda x, y: ImageSet(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y))  # noqa: E731
    return as_set(arrays["train_x"], arrays["train_y"]), as_set(arrays["test_x"], arrays["test_y"]), meta


DATA_CHECKS.register("tiny_imagenet")(_folder)
DATA_INFO.register("tiny_imagenet")(DataInfo(num_classes=200, in_channels=3, image_size=(SIZE, SIZE)))
