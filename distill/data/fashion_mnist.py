"""Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando 2017): 60,000 training and
10,000 test images of 28x28 clothing in 10 classes, as the four IDX files of the
MNIST layout (``distill/data/idx_files.py`` reads and checks them).

Where the files are: ``data.root`` (or its torchvision folder ``FashionMNIST/raw``);
without ``data.root``, Debian's package folder ``/usr/share/datasets/fashion-mnist``
(``apt-get install dataset-fashion-mnist``), then ``~/.cache/distill/FashionMNIST/raw``.

Registered:

- ``fashion_mnist`` (28x28) and ``fashion_mnist32`` (bilinear to 32x32, as ``mnist32``,
  for LeNet-5 and the DAFL generator): classification; t10k is the test split, 10% of
  train is held out as validation like every data set; normalised with the data set's
  published mean 0.2860 and std 0.3530; flips and pad-2 crops.
- ``fashion_mnist32_retrieval``: metric learning on disjoint classes. Training: the
  training images of classes 0-4 (T-shirt/top .. Coat; 5 classes). Test: the t10k images
  of classes 5-9 (Sandal .. Ankle boot), never seen in training: in each class every
  10th image (file order) is a query and the rest are the gallery. Validation: 10% of
  the training images of classes 0-4 held out per class (``data.split_seed``), every 10th
  of each class a query; these classes are seen in training (held out by image, not by
  class: with five training classes a class-disjoint validation split would leave one
  class to rank). Labels of the retrieval splits are class ids + 1 (the scorer's
  person ids; its junk id is -1); queries are camera 0 and the gallery camera 1, so a
  query's whole class in the gallery counts as its good set."""
from typing import Tuple

import torch

from distill.data.idx_files import SIDE, IdxLayout, find_files, read_both, resized_loader
from distill.data.registry import DATA_CHECKS, DATA_INFO, DATASETS, VAL_SPLITTERS, DataInfo, ImageSet
from distill.data.resize import resize_u8

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")
DEBIAN_FOLDER = "/usr/share/datasets/fashion-mnist"
LAYOUT = IdxLayout(title="Fashion-MNIST", torchvision="FashionMNIST",
                   default_folders=(DEBIAN_FOLDER, "~/.cache/distill/FashionMNIST/raw"),
                   provided_by="Debian's package dataset-fashion-mnist installs them: "
                               "apt-get install dataset-fashion-mnist")
MEAN, STD = (0.2860,), (0.3530,)
META = {"num_classes": 10, "crop_padding": 2, "flip": True, "mean": MEAN, "std": STD}
TRAIN_CLASSES, TEST_CLASSES = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
QUERY_EVERY = 10
QUERY_CAMERA, GALLERY_CAMERA = 0, 1


def check(root) -> None:
    find_files(root, LAYOUT)


def retrieval_set(images: torch.Tensor, labels: torch.Tensor, order: torch.Tensor) -> ImageSet:
    """A query/gallery split of ``images[order]``: every QUERY_EVERY-th image of each class
    (in ``order``) a query; labels as person ids (class + 1)."""
    images, labels = images[order], labels[order]
    query = torch.zeros(len(labels), dtype=torch.bool)
    for c in torch.unique(labels):
        members = (labels == c).nonzero().squeeze(1)
        query[members[::QUERY_EVERY]] = True
    camera = torch.where(query, QUERY_CAMERA, GALLERY_CAMERA).to(torch.int64)
    return ImageSet(images, labels + 1, {"camera": camera, "query": query})


def load_retrieval(root) -> Tuple[ImageSet, ImageSet, dict]:
    train, test = read_both(root, LAYOUT)
    keep = torch.isin(train.labels, torch.tensor(TRAIN_CLASSES))
    train = train.subset(keep.nonzero().squeeze(1))
    train.images = resize_u8(train.images, (32, 32))
    unseen = torch.isin(test.labels, torch.tensor(TEST_CLASSES)).nonzero().squeeze(1)
    test = retrieval_set(resize_u8(test.images, (32, 32)), test.labels, unseen)
    return train, test, {**META, "num_classes": len(TRAIN_CLASSES)}


def held_out_images_split(train: ImageSet, data_cfg) -> Tuple[ImageSet, ImageSet]:
    """``data.val_fraction`` of each training class's images (drawn with ``data.split_seed``) as a
    query/gallery validation split; the rest train."""
    generator = torch.Generator().manual_seed(data_cfg.split_seed)
    held = []
    for c in torch.unique(train.labels):
        members = (train.labels == c).nonzero().squeeze(1)
        count = max(2, int(round(data_cfg.val_fraction * len(members))))
        held.append(members[torch.randperm(len(members), generator=generator)[:count]])
    held = torch.cat(held)
    is_val = torch.zeros(len(train), dtype=torch.bool)
    is_val[held] = True
    val = retrieval_set(train.images, train.labels, held)
    return train.subset((~is_val).nonzero().squeeze(1)), val


for _name, _size in (("fashion_mnist", SIDE), ("fashion_mnist32", 32)):
    DATASETS.register(_name)(resized_loader(lambda: LAYOUT, _size, META))
    DATA_CHECKS.register(_name)(check)
    DATA_INFO.register(_name)(DataInfo(num_classes=10, in_channels=1, image_size=(_size, _size),
                                       class_names=CLASS_NAMES))
DATASETS.register("fashion_mnist32_retrieval")(load_retrieval)
DATA_CHECKS.register("fashion_mnist32_retrieval")(check)
DATA_INFO.register("fashion_mnist32_retrieval")(DataInfo(num_classes=len(TRAIN_CLASSES), in_channels=1,
                                                         image_size=(32, 32), task="retrieval",
                                                         class_names=tuple(CLASS_NAMES[c] for c in TRAIN_CLASSES),
                                                         test_class_names=tuple(CLASS_NAMES[c] for c in TEST_CLASSES)))
VAL_SPLITTERS.register("fashion_mnist32_retrieval")(held_out_images_split)
