"""CIFAR-10 / CIFAR-100 read from torchvision's on-disk format (the pickled
batches inside ``cifar-10-batches-py`` / ``cifar-100-python``), straight into
uint8 tensors: no PIL, no per-image Python."""
import os
import pickle

import numpy as np
import torch

from distill.data.registry import DATA_CHECKS, DATA_INFO, DATASETS, DataInfo, ImageSet
from distill.errors import ConfigError

_LAYOUTS = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels", 10),
    "cifar100": ("cifar-100-python", ["train"], ["test"], b"fine_labels", 100),
}


def _folder(name: str, root):
    folder_name = _LAYOUTS[name][0]
    if not root:
        raise ConfigError("data.root", f"{name} needs data.root: the folder that holds {folder_name}/")
    folder = root if os.path.basename(os.path.normpath(root)) == folder_name else os.path.join(root, folder_name)
    if not os.path.isdir(folder):
        raise ConfigError("data.root", f"{folder} does not exist; expected torchvision's {folder_name}/ layout")
    _, train_files, test_files, _, _ = _LAYOUTS[name]
    missing = [f for f in train_files + test_files if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        raise ConfigError("data.root", f"{folder} is incomplete: missing {', '.join(missing)}")
    return folder


def _read(folder: str, files, label_key: bytes) -> ImageSet:
    images, labels = [], []
    for name in files:
        path = os.path.join(folder, name)
        try:
            with open(path, "rb") as fh:
                batch = pickle.load(fh, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            labels.append(np.asarray(batch[label_key], dtype=np.int64))
        except (pickle.UnpicklingError, KeyError, ValueError, EOFError) as err:
            raise ConfigError("data.root", f"{path} is not a CIFAR batch file ({type(err).__name__})") from None
        images.append(data)
    return ImageSet(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)))


def _loader(name: str):
    def load(root):
        folder = _folder(name, root)
        _, train_files, test_files, label_key, classes = _LAYOUTS[name]
        meta = {"num_classes": classes, "crop_padding": 4, "flip": True}
        return _read(folder, train_files, label_key), _read(folder, test_files, label_key), meta
    return load


for _name in _LAYOUTS:
    DATASETS.register(_name)(_loader(_name))
    DATA_CHECKS.register(_name)(lambda root, _n=_name: _folder(_n, root))
    DATA_INFO.register(_name)(DataInfo(num_classes=_LAYOUTS[_name][4], in_channels=3, image_size=(32, 32)))
