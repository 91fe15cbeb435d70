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
import os
from typing import List, Tuple

import numpy as np
import torch

from distill.data.image_cache import CacheSpec, cached_images
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


def _cache_spec(folder: str) -> CacheSpec:
    # version "v2" and the file names are those of the caches written before image_cache existed
    return CacheSpec(folder=folder, file_name=CACHE_NAME, user_prefix="tiny_imagenet", size=(SIZE, SIZE),
                     version="v2", layout=FOLDER)


@DATASETS.register("tiny_imagenet")
def load_tiny_imagenet(root):
    folder = _folder(root)
    _, train, test = _listing(folder)
    arrays = cached_images(_cache_spec(folder), {"train_x": [p for p, _ in train], "test_x": [p for p, _ in test]})
    train_x, test_x = arrays["train_x"], arrays["test_x"]
    labels = lambda items: torch.tensor([label for _, label in items], dtype=torch.int64)  # noqa: E731
    meta = {"num_classes": 200, "crop_padding": 8, "flip": True}   # 64 px: pad 8, random 64 crop, flips
    return (ImageSet(torch.from_numpy(np.ascontiguousarray(train_x)), labels(train)),
            ImageSet(torch.from_numpy(np.ascontiguousarray(test_x)), labels(test)), meta)


DATA_CHECKS.register("tiny_imagenet")(_folder)
DATA_INFO.register("tiny_imagenet")(DataInfo(num_classes=200, in_channels=3, image_size=(SIZE, SIZE)))
