"""ImageNet (ILSVRC-2012) as it lies on disk: which image is which class, in the three
layouts users have.

- ``train/<wnid>/*.JPEG``: the class order is the sorted wnids (torchvision's order).
- ``val/`` (the official validation set, our **test** split) either
  1. sorted into ``val/<wnid>/`` folders (the "valprep" layout), or
  2. flat (``val/ILSVRC2012_val_00000001.JPEG`` ...) with the devkit's
     ``ILSVRC2012_validation_ground_truth.txt`` (line i: the ILSVRC2012_ID of the i-th image
     by name) and ``meta.mat`` (ID -> wnid of the 1,000 leaf synsets), under
     ``ILSVRC2012_devkit_t12/data/`` or beside ``train/``, or
  3. flat with the Kaggle download's ``LOC_val_solution.csv`` (``ImageId,PredictionString``;
     the class is the first wnid of the string), beside ``train/``.

Every inconsistency (a label file naming a wnid train has not, an image without a label, a
label without an image, a malformed line) is one ``ConfigError`` line naming the file."""
import csv
import os
from typing import Dict, List, Tuple

from distill.errors import ConfigError

FIELD = "data.root"
EXTENSIONS = (".jpeg", ".jpg", ".png")
DEVKIT = os.path.join("ILSVRC2012_devkit_t12", "data")
GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"
META = "meta.mat"
KAGGLE = "LOC_val_solution.csv"
LAYOUT = ("train/<wnid>/*.JPEG and val/ as <wnid>/ folders, or flat with the devkit's "
          f"{GROUND_TRUTH} and {META}, or flat with {KAGGLE}")

Listing = List[Tuple[str, int]]


def _images(folder: str) -> List[str]:
    return sorted(f for f in os.listdir(folder) if f.lower().endswith(EXTENSIONS))


def _train(root: str) -> Tuple[List[str], Listing]:
    train_dir = os.path.join(root, "train")
    if not os.path.isdir(train_dir):
        raise ConfigError(FIELD, f"{train_dir} does not exist; expected {LAYOUT}")
    wnids = sorted(d for d in os.listdir(train_dir) if os.path.isdir(os.path.join(train_dir, d)))
    if not wnids:
        raise ConfigError(FIELD, f"{train_dir} has no <wnid>/ class folders; expected {LAYOUT}")
    listing: Listing = []
    for label, wnid in enumerate(wnids):
        names = _images(os.path.join(train_dir, wnid))
        if not names:
            raise ConfigError(FIELD, f"{os.path.join(train_dir, wnid)} holds no images")
        listing += [(os.path.join(train_dir, wnid, name), label) for name in names]
    return wnids, listing


def _first(root: str, *candidates: str) -> str:
    for relative in candidates:
        if os.path.isfile(os.path.join(root, relative)):
            return os.path.join(root, relative)
    return ""


def _devkit_labels(root: str, names: List[str]) -> Dict[str, str]:
    truth = _first(root, os.path.join(DEVKIT, GROUND_TRUTH), GROUND_TRUTH)
    meta = _first(root, os.path.join(DEVKIT, META), META)
    if not meta:
        raise ConfigError(FIELD, f"{truth} needs the devkit's {META} beside it (ILSVRC2012_ID -> wnid)")
    try:
        from scipy.io import loadmat

        synsets = loadmat(meta, squeeze_me=True)["synsets"]
        id_to_wnid = {int(s["ILSVRC2012_ID"]): str(s["WNID"]) for s in synsets if int(s["num_children"]) == 0}
    except Exception as err:   # not a MATLAB file, or not the devkit's structure
        raise ConfigError(FIELD, f"{meta} is not the devkit's synset table ({type(err).__name__}: "
                                 f"{str(err).splitlines()[0] if str(err) else ''})") from None
    with open(truth) as fh:
        lines = [line.strip() for line in fh if line.strip()]
    if len(lines) != len(names):
        raise ConfigError(FIELD, f"{truth} has {len(lines)} labels for the {len(names)} images in val/")
    labels = {}
    for number, (line, name) in enumerate(zip(lines, names), 1):
        if not line.isdigit() or int(line) not in id_to_wnid:
            raise ConfigError(FIELD, f"{truth} line {number} is {line[:40]!r}, not an ILSVRC2012_ID of {meta}")
        labels[name] = id_to_wnid[int(line)]
    return labels


def _kaggle_labels(path: str, names: List[str]) -> Dict[str, str]:
    stems = {os.path.splitext(n)[0]: n for n in names}
    labels = {}
    with open(path, newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, None)
        if not header or [h.strip() for h in header[:2]] != ["ImageId", "PredictionString"]:
            raise ConfigError(FIELD, f"{path} line 1 is not 'ImageId,PredictionString'")
        for number, row in enumerate(rows, 2):
            if not row:
                continue
            if len(row) < 2 or not row[1].split():
                raise ConfigError(FIELD, f"{path} line {number} is not 'ImageId,wnid x y x y ...'")
            if row[0] not in stems:
                raise ConfigError(FIELD, f"{path} line {number} names {row[0]}, which is not in val/")
            labels[stems[row[0]]] = row[1].split()[0]
    return labels


def _val(root: str, wnids: List[str]) -> Listing:
    val_dir = os.path.join(root, "val")
    if not os.path.isdir(val_dir):
        raise ConfigError(FIELD, f"{val_dir} does not exist; expected {LAYOUT}")
    index = {w: i for i, w in enumerate(wnids)}
    folders = sorted(d for d in os.listdir(val_dir) if os.path.isdir(os.path.join(val_dir, d)))
    if folders:   # sorted into class folders
        unknown = [d for d in folders if d not in index]
        if unknown:
            raise ConfigError(FIELD, f"{os.path.join(val_dir, unknown[0])} is not a class of train/ "
                                     f"({len(unknown)} such folder(s))")
        return [(os.path.join(val_dir, d, name), index[d]) for d in folders for name in _images(os.path.join(val_dir, d))]
    names = _images(val_dir)
    if not names:
        raise ConfigError(FIELD, f"{val_dir} holds neither <wnid>/ folders nor images; expected {LAYOUT}")
    kaggle = _first(root, KAGGLE)
    if _first(root, os.path.join(DEVKIT, GROUND_TRUTH), GROUND_TRUTH):
        source, labels = "the devkit's ground truth", _devkit_labels(root, names)
    elif kaggle:
        source, labels = kaggle, _kaggle_labels(kaggle, names)
    else:
        raise ConfigError(FIELD, f"{val_dir} is flat but no label file was found: expected {GROUND_TRUTH} and "
                                 f"{META} (under {DEVKIT}/ or beside train/) or {KAGGLE} beside train/")
    missing = [n for n in names if n not in labels]
    if missing:
        raise ConfigError(FIELD, f"{os.path.join(val_dir, missing[0])} has no label in {source} "
                                 f"({len(missing)} image(s) without one)")
    stray = sorted({w for w in labels.values() if w not in index})
    if stray:
        raise ConfigError(FIELD, f"{source} labels val images {stray[0]}, which is not a class of train/")
    return [(os.path.join(val_dir, n), index[labels[n]]) for n in names]


def imagenet_listing(root: str) -> Tuple[List[str], Listing, Listing]:
    """(wnids in class order, train [(path, label)], test = official val [(path, label)])."""
    if not root:
        raise ConfigError(FIELD, f"imagenet needs data.root: the folder that holds {LAYOUT}")
    wnids, train = _train(root)
    return wnids, train, _val(root, wnids)
