"""``imagenet``: ILSVRC-2012 from its folder (``imagenet_folder.py`` reads the layouts), read
from the JPEG files as it trains (``ImageFiles``): random-resized 224 crops and flips for
training, resize 256 and centre 224 crop for evaluation, the ImageNet mean and std. The
official validation set is the **test** split; the validation split the sweeps select on
is held out of train (``data.val_fraction``), as for every data set.

``imagenet_smoke``: 10 classes in the same folder layout, written deterministically when
absent (flat ``val/`` with the Kaggle ``LOC_val_solution.csv``) as real JPEGs of 80x64
pixels, read by the same code at 64 pixels (resize 73, centre 64: ImageNet's 224/256)."""
import os

import numpy as np
import torch

from distill.data.generated_folder import write_once
from distill.data.image_files import ImageFiles
from distill.data.imagenet_folder import KAGGLE, imagenet_listing
from distill.data.registry import DATA_CHECKS, DATA_INFO, DATASETS, DataInfo
from distill.errors import ConfigError

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)   # torchvision's ImageNet constants
CLASSES = 1000


def _root(root) -> str:
    if not root:
        raise ConfigError("data.root", "imagenet needs data.root: the folder that holds train/ and val/")
    return root


def _check(root) -> None:
    wnids, _, _ = imagenet_listing(_root(root))
    if len(wnids) != CLASSES:
        raise ConfigError("data.root", f"{os.path.join(root, 'train')} has {len(wnids)} <wnid>/ class folders; "
                                       f"ILSVRC-2012 has {CLASSES}")


def _splits(root: str, size: int, resize: int):
    wnids, train, test = imagenet_listing(root)
    files = lambda items: ImageFiles(tuple(p for p, _ in items),  # noqa: E731
                                     torch.tensor([label for _, label in items], dtype=torch.int64), size, resize)
    meta = {"num_classes": len(wnids), "crop_padding": 0, "flip": True, "mean": MEAN, "std": STD}
    return files(train), files(test), meta


@DATASETS.register("imagenet")
def load_imagenet(root):
    _check(root)
    return _splits(root, 224, 256)


DATA_CHECKS.register("imagenet")(_check)
DATA_INFO.register("imagenet")(DataInfo(num_classes=CLASSES, in_channels=3, image_size=(224, 224)))

# -- the smoke set -----------------------------------------------------------
SMOKE_VERSION = "imagenet_smoke_v1"
SMOKE_CLASSES, SMOKE_TRAIN, SMOKE_VAL = 10, 24, 6
SMOKE_SIZE, SMOKE_RESIZE = 64, 73
HEIGHT, WIDTH = 64, 80
SEED = 2012


def smoke_default_folder() -> str:
    user = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(user, "distill", SMOKE_VERSION)


def _smoke_image(rng: np.random.RandomState, colour: np.ndarray, period: int, vertical: bool) -> np.ndarray:
    """A class is a colour and a stripe period and direction; each image adds a shift, a
    brightness and noise."""
    axis = np.arange(WIDTH if vertical else HEIGHT)
    stripes = ((axis + rng.randint(period * 2)) // period) % 2
    pattern = stripes[None, :] if vertical else stripes[:, None]
    image = np.where(pattern[..., None] == 1, colour, 255 - colour) * rng.uniform(0.7, 1.1)
    image = image + rng.normal(0, 12, (HEIGHT, WIDTH, 3))
    return np.clip(np.broadcast_to(image, (HEIGHT, WIDTH, 3)), 0, 255).astype(np.uint8)


def _write_jpeg(path: str, image: np.ndarray) -> None:
    from torchvision.io import encode_jpeg, write_file

    write_file(path, encode_jpeg(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1), quality=90))


def write_imagenet_smoke(folder: str) -> None:
    rng = np.random.RandomState(SEED)
    wnids = [f"n{9000000 + i:08d}" for i in range(SMOKE_CLASSES)]
    os.makedirs(os.path.join(folder, "val"))
    solution = ["ImageId,PredictionString"]
    number = 0
    for wnid in wnids:
        colour, period, vertical = rng.randint(30, 226, 3), rng.randint(2, 9), bool(rng.rand() < 0.5)
        os.makedirs(os.path.join(folder, "train", wnid))
        for i in range(SMOKE_TRAIN):
            _write_jpeg(os.path.join(folder, "train", wnid, f"{wnid}_{i}.JPEG"),
                        _smoke_image(rng, colour, period, vertical))
        for _ in range(SMOKE_VAL):
            number += 1
            name = f"ILSVRC2012_val_{number:08d}"
            _write_jpeg(os.path.join(folder, "val", f"{name}.JPEG"), _smoke_image(rng, colour, period, vertical))
            solution.append(f"{name},{wnid} 1 1 {WIDTH - 1} {HEIGHT - 1}")
    with open(os.path.join(folder, KAGGLE), "w") as fh:
        fh.write("\n".join(solution) + "\n")


def _smoke_complete(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, KAGGLE))


def smoke_folder(root) -> str:
    folder = os.path.abspath(root or smoke_default_folder())
    return write_once(folder, "imagenet_smoke", SMOKE_VERSION, write_imagenet_smoke, _smoke_complete,
                      f"train/, val/ and {KAGGLE}", f"an absent or empty data.root (or, without one, "
                                                    f"{smoke_default_folder()})")


@DATASETS.register("imagenet_smoke")
def load_imagenet_smoke(root):
    return _splits(smoke_folder(root), SMOKE_SIZE, SMOKE_RESIZE)


DATA_INFO.register("imagenet_smoke")(DataInfo(num_classes=SMOKE_CLASSES, in_channels=3,
                                              image_size=(SMOKE_SIZE, SMOKE_SIZE)))
