"""Market-1501 from its on-disk folder: ``bounding_box_train/`` (the training
identities), ``query/`` and ``bounding_box_test/`` (the gallery), images named
``PPPP_cCsS_FFFFFF_BB.jpg``: 4-digit person id (``-1`` junk, ``0000``
distractor), camera C, sequence S, 6-digit frame, 2-digit box. Files that are not
``.jpg`` (the ``Thumbs.db`` Market ships) are ignored; a ``.jpg`` of another
name is an error naming it.

Train: labels are the class index of the person id among the sorted ids of
``bounding_box_train`` (junk and distractor images there are skipped); extras
``person_id`` and ``camera`` let the identity-disjoint validation splitter
(``identity_split.py``) hold out whole identities. Test: ``query/`` then
``bounding_box_test/``, labels the raw person ids (-1 junk, 0 distractor),
extras ``camera`` and ``query``.

Images are decoded once with a thread pool, resized to 256x128 (H x W; the
originals are 128x64) and cached as uint8 (``image_cache.py``). Normalisation
uses the ImageNet constants of the reference re-id pipelines (statistics of the
1.3 GB training tensor in float64 would need ~10 GB). Augmentation: horizontal
flips and pad-10 random crops, on the device (``TrainBatches``).
``data.train_limit`` keeps the first N training images after the split (a few
identities, for tests); validation and test stay whole."""
import os
import re
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
import torch

from distill.data.identity_split import identity_disjoint_split
from distill.data.image_cache import CacheSpec, cached_images
from distill.data.registry import DATA_CHECKS, DATA_INFO, DATASETS, VAL_SPLITTERS, DataInfo, ImageSet
from distill.errors import ConfigError

SUBFOLDERS = ("bounding_box_train", "query", "bounding_box_test")
FOLDER_NAMES = ("Market-1501-v15.09.15", "Market-1501")   # the official archive's folder, and the short name
PATTERN = re.compile(r"^(-1|\d{4})_c(\d)s(\d)_(\d{6})_(\d{2})\.jpg$")
NAMING = ("PPPP_cCsS_FFFFFF_BB.jpg (4-digit person id or -1 for junk, camera digit, sequence digit, "
          "6-digit frame, 2-digit box)")
EXPECTED = "the Market-1501 layout: bounding_box_train/, query/, bounding_box_test/ of " + NAMING
CAMERAS = (1, 6)   # Market-1501 was filmed by six cameras
_WARNED: set = set()   # folders whose lone query identities were reported (once per process)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Layout:
    """What tells the real set from the smoke one; everything else is shared."""
    name: str
    num_classes: int               # person ids in bounding_box_train
    size: Tuple[int, int]          # (H, W) the images are resized to
    crop_padding: int


@dataclass(frozen=True)
class Entry:
    path: str
    person: int
    camera: int


@dataclass
class Listing:
    folder: str
    train: List[Entry]             # junk and distractors removed
    query: List[Entry]
    gallery: List[Entry]
    ids: List[int]                 # sorted person ids of train: the class order


MARKET = Layout("market1501", num_classes=751, size=(256, 128), crop_padding=10)


def find_folder(root, name: str) -> str:
    """``root`` itself when it holds the three folders, else ``root/Market-1501-v15.09.15`` (or ``Market-1501``)."""
    if not root:
        raise ConfigError("data.root", f"{name} needs data.root: the folder that holds bounding_box_train/, "
                                       f"query/ and bounding_box_test/ (or {FOLDER_NAMES[0]}/)")
    folder = next((c for c in [root] + [os.path.join(root, n) for n in FOLDER_NAMES]
                   if os.path.isdir(os.path.join(c, SUBFOLDERS[0]))), root)
    for sub in SUBFOLDERS:
        if not os.path.isdir(os.path.join(folder, sub)):
            raise ConfigError("data.root", f"{os.path.join(folder, sub)} does not exist; expected {EXPECTED}")
    return folder


def list_images(path: str) -> List[Entry]:
    entries = []
    for name in sorted(os.listdir(path)):
        if not name.lower().endswith(".jpg"):
            continue
        match = PATTERN.match(name)
        if match is None:
            raise ConfigError("data.root", f"{os.path.join(path, name)} does not match {NAMING}")
        entries.append(Entry(os.path.join(path, name), int(match.group(1)), int(match.group(2))))
    return entries


def listing(root, layout: Layout) -> Listing:
    """Names only, no decoding: cheap enough for the driver's data check."""
    folder = find_folder(root, layout.name)
    train, query, gallery = (list_images(os.path.join(folder, sub)) for sub in SUBFOLDERS)
    train = [e for e in train if e.person > 0]
    ids = sorted({e.person for e in train})
    if len(ids) != layout.num_classes:
        raise ConfigError("data.root", f"{os.path.join(folder, SUBFOLDERS[0])} holds {len(ids)} person ids; "
                                       f"{layout.name} has {layout.num_classes} (its num_classes)")
    check_semantics(folder, train, query, gallery)
    return Listing(folder, train, query, gallery, ids)


def check_semantics(folder: str, train: List[Entry], query: List[Entry], gallery: List[Entry]) -> None:
    """Market-1501's rules beyond names: cameras 1-6, a test split with queries and a gallery; a
    query identity the gallery lacks is only warned about (its queries are skipped when scoring)."""
    for sub, entries in zip(SUBFOLDERS, (train, query, gallery)):
        if sub != SUBFOLDERS[0] and not entries:
            raise ConfigError("data.root", f"{os.path.join(folder, sub)} holds no images; the test split needs "
                                           "queries and a gallery")
        bad = next((e for e in entries if not CAMERAS[0] <= e.camera <= CAMERAS[1]), None)
        if bad is not None:
            raise ConfigError("data.root", f"{bad.path}: camera {bad.camera} is outside Market-1501's cameras "
                                           f"{CAMERAS[0]}-{CAMERAS[1]}")
    in_gallery = {e.person for e in gallery}
    alone = sorted({e.person for e in query if e.person > 0 and e.person not in in_gallery})
    if alone and folder not in _WARNED:
        _WARNED.add(folder)
        print(f"warning: {len(alone)} query identit{'y' if len(alone) == 1 else 'ies'} of "
              f"{os.path.join(folder, SUBFOLDERS[1])} (e.g. {alone[0]:04d}) have no image in "
              f"{SUBFOLDERS[2]}/; their queries are skipped when scoring", flush=True)


def load(root, layout: Layout):
    found = listing(root, layout)
    spec = CacheSpec(folder=found.folder, file_name=".distill_cache_u8.npz", user_prefix=layout.name,
                     size=layout.size, version="market-v1", layout="Market-1501")
    test_entries = found.query + found.gallery
    arrays = cached_images(spec, {"train_x": [e.path for e in found.train], "test_x": [e.path for e in test_entries]})
    column = lambda entries, key: torch.tensor([key(e) for e in entries], dtype=torch.int64)  # noqa: E731
    index = {person: i for i, person in enumerate(found.ids)}
    train = ImageSet(torch.from_numpy(np.ascontiguousarray(arrays["train_x"])),
                     column(found.train, lambda e: index[e.person]),
                     {"person_id": column(found.train, lambda e: e.person),
                      "camera": column(found.train, lambda e: e.camera)})
    query = torch.zeros(len(test_entries), dtype=torch.bool)
    query[:len(found.query)] = True
    test = ImageSet(torch.from_numpy(np.ascontiguousarray(arrays["test_x"])),
                    column(test_entries, lambda e: e.person),
                    {"camera": column(test_entries, lambda e: e.camera), "query": query})
    meta = {"num_classes": layout.num_classes, "crop_padding": layout.crop_padding, "flip": True,
            "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    return train, test, meta


def register(layout: Layout, folder_of=lambda root: root) -> None:
    """The four registrations of a Market-format data set; ``folder_of`` maps data.root to the folder
    (the smoke set generates its folder there)."""
    def check(root) -> None:
        listing(folder_of(root), layout)

    DATASETS.register(layout.name)(lambda root: load(folder_of(root), layout))
    DATA_CHECKS.register(layout.name)(check)
    DATA_INFO.register(layout.name)(DataInfo(num_classes=layout.num_classes, in_channels=3,
                                             image_size=layout.size, task="retrieval"))
    VAL_SPLITTERS.register(layout.name)(identity_disjoint_split)


register(MARKET)
