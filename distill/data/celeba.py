"""CelebA (Liu et al. 2015) in its published layout, read as Lopes et al.'s
``replayed_distillation`` reads it (``datasets/celeba_balance.py``), the code DAFL's
CelebA experiment follows.

Layout: a ``CelebA/`` folder (``data.root`` is that folder or the one holding it)
with ``img_align_celeba/`` (``000001.jpg`` ..., 178 wide x 218 high),
``list_attr_celeba.txt`` (line 1 the image count, line 2 the 40 attribute names,
then ``<image>`` and 40 values of -1 or 1 a line) and ``list_eval_partition.txt``
(``<image> <0|1|2>``: train, validation, test).

Task: one binary attribute, label 1 where it is +1. By default the most balanced
one, whose fraction of +1 over every line of the attribute file is nearest 0.5
(the reference's choice; "Attractive" on the real file); ``data.attribute`` picks
another. The loader labels by the default and carries all 40 in
``extras["attributes"]`` with their names in its meta; ``load_splits`` relabels
by ``data.attribute`` and drops them (``registry.select_attribute``).

Splits are the published partitions: train 0, validation 1 (a validation
splitter, so ``data.val_fraction`` and ``data.split_seed`` do not apply), test 2.
Preprocessing as the reference: rows 20:198 of all 178 columns (a 178x178
square), resized bilinearly; the reference feeds [0, 1] pixels without mean
subtraction, so the meta fixes mean 0 and std 1 (the statistics of the training
split would also need its float64 copy, ~196 GB at 224). Augmentation: flips (a
face's mirror is a face; the reference has none: ``data.augment: false``).

``celeba`` is the reference's 224x224. It holds the decoded images as uint8 in
memory, 150,528 bytes an image (30.5 GB for the 202,599 images; as much again in
the cache file), decoded once into the ``image_cache`` cache. ``celeba64`` is the
same crop at 64x64 (12 KB an image) for CPU runs and the smoke preset;
``celeba64_smoke`` (``celeba_smoke.py``) a generated folder in this layout."""
import os
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
import torch

from distill.data.image_cache import CacheSpec, cached_images
from distill.data.registry import DATA_CHECKS, DATA_INFO, DATASETS, VAL_SPLITTERS, DataInfo, ImageSet
from distill.errors import ConfigError

ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips", "Big_Nose",
    "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses",
    "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks",
    "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick",
    "Wearing_Necklace", "Wearing_Necktie", "Young")
FOLDER = "CelebA"
IMAGES, ATTR_FILE, PARTITION_FILE = "img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt"
EXPECTED = (f"the CelebA layout: {FOLDER}/ holding {IMAGES}/ (000001.jpg ...), {ATTR_FILE} and {PARTITION_FILE}")
SOURCE_SIZE = (178, 218)      # (W, H) of the aligned images
CROP = (0, 20, 178, 198)      # PIL box: rows 20:198, all 178 columns
PARTITIONS = ("train", "validation", "test")
VALUES = frozenset(("-1", "1"))


@dataclass(frozen=True)
class Layout:
    name: str
    size: int                 # the square side the crop is resized to


@dataclass
class Listing:
    folder: str
    names: List[str]          # images, in the partition file's order
    partition: np.ndarray     # (N,) int64: 0 train, 1 validation, 2 test
    table: np.ndarray         # (N, 40) bool: the attribute is +1; columns in the attribute file's order
    attributes: Tuple[str, ...]
    balanced: int             # the column of the most balanced attribute


def find_folder(root, name: str) -> str:
    if not root:
        raise ConfigError("data.root", f"{name} needs data.root: the folder that holds {FOLDER}/ ({EXPECTED})")
    inside = os.path.basename(os.path.normpath(root)) == FOLDER or os.path.isdir(os.path.join(root, IMAGES))
    folder = root if inside else os.path.join(root, FOLDER)
    for part, exists in (("", os.path.isdir), (IMAGES, os.path.isdir), (ATTR_FILE, os.path.isfile),
                         (PARTITION_FILE, os.path.isfile)):
        if not exists(os.path.join(folder, part)):
            raise ConfigError("data.root", f"{os.path.join(folder, part)} does not exist; expected {EXPECTED}")
    return folder


def _lines(path: str):
    """(line number, fields) of the non-blank lines; undecodable bytes become a malformed line."""
    with open(path, encoding="ascii", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            fields = line.split()
            if fields:
                yield number, fields, line


def read_partitions(folder: str) -> Tuple[List[str], List[int], List[int]]:
    """Image names, partition ids and line numbers of the partition file; every image must exist."""
    path = os.path.join(folder, PARTITION_FILE)
    present = set(os.listdir(os.path.join(folder, IMAGES)))   # one listing, not 202,599 stats
    names, parts, numbers, seen = [], [], [], {}
    for number, fields, line in _lines(path):
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise ConfigError("data.root", f"{path} line {number} is not '<image> <0|1|2>' (0 train, 1 validation, "
                                           f"2 test): {line.strip()[:80]!r}")
        if fields[0] in seen:
            raise ConfigError("data.root", f"{path} line {number} names {fields[0]} again (line {seen[fields[0]]})")
        if fields[0] not in present:
            raise ConfigError("data.root", f"{os.path.join(folder, IMAGES, fields[0])} does not exist; named by "
                                           f"{path} line {number}")
        seen[fields[0]] = number
        names.append(fields[0])
        parts.append(int(fields[1]))
        numbers.append(number)
    for i, split in enumerate(PARTITIONS):
        if i not in parts:
            raise ConfigError("data.root", f"{path} puts no image in partition {i} ({split}); {EXPECTED}")
    return names, parts, numbers


def read_attributes(folder: str, index: Dict[str, int]) -> Tuple[Tuple[str, ...], np.ndarray, np.ndarray]:
    """The attribute names (file order), the (N, 40) table of +1 in ``index`` order, and which rows were found."""
    path = os.path.join(folder, ATTR_FILE)
    lines = _lines(path)
    header = [next(lines, (None, [], "")) for _ in range(2)]
    if header[0][0] != 1 or len(header[0][1]) != 1 or not header[0][1][0].isdigit():
        raise ConfigError("data.root", f"{path} line 1 is not the image count: {header[0][2].strip()[:80]!r}")
    names = tuple(header[1][1])
    if header[1][0] != 2 or len(names) != len(ATTRIBUTES) or set(names) != set(ATTRIBUTES):
        odd = next((n for n in names if n not in ATTRIBUTES), None) or \
            next((n for n in ATTRIBUTES if n not in names), None)
        raise ConfigError("data.root", f"{path} line 2 does not name CelebA's 40 attributes (e.g. {odd!r}); "
                                       f"expected: {' '.join(ATTRIBUTES)}")
    rows, values = [], []
    found = np.zeros(len(index), bool)
    for number, fields, line in lines:
        if len(fields) != len(names) + 1:
            raise ConfigError("data.root", f"{path} line {number} is not '<image>' and {len(names)} values of -1 or 1: "
                                           f"{line.strip()[:80]!r}")
        if not VALUES.issuperset(fields[1:]):
            column = next(j for j, v in enumerate(fields[1:]) if v not in VALUES)
            raise ConfigError("data.root", f"{path} line {number}: {names[column]} is {fields[column + 1]!r}; "
                                           "CelebA's attributes are -1 or 1")
        row = index.get(fields[0])
        if row is None:
            raise ConfigError("data.root", f"{path} line {number}: {fields[0]} is not in {PARTITION_FILE}")
        if found[row]:
            raise ConfigError("data.root", f"{path} line {number} names {fields[0]} a second time")
        found[row] = True
        rows.append(row)
        values.append(fields[1:])
    count = int(header[0][1][0])
    if len(rows) != count:
        raise ConfigError("data.root", f"{path} line 1 counts {count} images; the file has {len(rows)} image lines")
    table = np.zeros((len(index), len(names)), bool)
    if rows:
        table[np.asarray(rows)] = np.asarray(values) == "1"
    return names, table, found


def listing(root, name: str) -> Listing:
    """Both files parsed and checked against each other and the image folder; no decoding."""
    folder = find_folder(root, name)
    names, parts, numbers = read_partitions(folder)
    attributes, table, found = read_attributes(folder, {n: i for i, n in enumerate(names)})
    if not found.all():
        i = int(np.argmin(found))
        raise ConfigError("data.root", f"{os.path.join(folder, PARTITION_FILE)} line {numbers[i]} names {names[i]}, "
                                       f"which {ATTR_FILE} has no line for")
    # every image has exactly one line, so these are the fractions over the whole attribute file;
    # argmin takes the first of equals, as the reference's np.argmin
    balanced = int(np.argmin(np.abs(table.mean(axis=0) - 0.5)))
    return Listing(folder, names, np.asarray(parts, np.int64), table, attributes, balanced)


def partition_split(train: ImageSet, data_cfg) -> Tuple[ImageSet, ImageSet]:
    """The published validation partition (1) is the validation split. The loader puts
    partition 0 first, so both are slices: views of the images, not copies (27 GB at 224)."""
    partition = train.extras["partition"]
    n_train = int((partition == 0).sum())
    if bool((partition[:n_train] == 0).all()):
        picks = slice(0, n_train), slice(n_train, None)
    else:
        picks = (partition == 0).nonzero().squeeze(1), (partition == 1).nonzero().squeeze(1)

    def without_partition(part: ImageSet) -> ImageSet:
        return ImageSet(part.images, part.labels, {k: v for k, v in part.extras.items() if k != "partition"})

    return tuple(without_partition(train.subset(pick)) for pick in picks)


def load(root, layout: Layout):
    found = listing(root, layout.name)
    rows = [np.flatnonzero(found.partition == p) for p in range(3)]
    train_rows, test_rows = np.concatenate(rows[:2]), rows[2]
    spec = CacheSpec(folder=found.folder, file_name=f".distill_cache_{layout.name}_u8.npz", user_prefix=layout.name,
                     size=(layout.size, layout.size), version="celeba-v1", layout="CelebA", crop=CROP,
                     source_size=SOURCE_SIZE)
    paths = lambda picked: [os.path.join(found.folder, IMAGES, found.names[i]) for i in picked]  # noqa: E731
    arrays = cached_images(spec, {"train_x": paths(train_rows), "test_x": paths(test_rows)})

    def image_set(picked: np.ndarray, images: np.ndarray, extras: Dict[str, torch.Tensor]) -> ImageSet:
        labels = torch.from_numpy(found.table[picked, found.balanced].astype(np.int64))
        extras = {"attributes": torch.from_numpy(found.table[picked]), **extras}
        return ImageSet(torch.from_numpy(np.ascontiguousarray(images)), labels, extras)

    train = image_set(train_rows, arrays["train_x"], {"partition": torch.from_numpy(found.partition[train_rows])})
    test = image_set(test_rows, arrays["test_x"], {})
    # [0, 1] pixels as the reference: normalising by mean 0, std 1 is dividing by 255 only
    meta = {"num_classes": 2, "crop_padding": 0, "flip": True, "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0),
            "attributes": found.attributes}
    return train, test, meta


def register(layout: Layout, folder_of=lambda root: root) -> None:
    """The four registrations of a CelebA-format data set; ``folder_of`` maps data.root to the folder
    (the smoke set generates its folder there)."""
    def check(root) -> None:   # the folder and its three pieces only: the driver reads the files next
        find_folder(folder_of(root), layout.name)

    DATASETS.register(layout.name)(lambda root: load(folder_of(root), layout))
    DATA_CHECKS.register(layout.name)(check)
    DATA_INFO.register(layout.name)(DataInfo(num_classes=2, in_channels=3, image_size=(layout.size, layout.size),
                                             attributes=ATTRIBUTES))
    VAL_SPLITTERS.register(layout.name)(partition_split)


register(Layout("celeba", 224))
register(Layout("celeba64", 64))
