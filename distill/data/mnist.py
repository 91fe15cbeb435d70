"""MNIST read from its IDX files (LeCun's distribution, also torchvision's
``MNIST/raw``; ``distill/data/idx_files.py`` reads and checks them) under
``data.root`` or ``data.root/MNIST/raw``.

The official t10k set is our **test** split; validation is held out of train as
for every data set. ``mnist`` is 28x28; ``mnist32`` resizes to 32x32 (bilinear,
as the ``Resize(32)`` of DAFL's official pipeline) for LeNet-5. No flips, no crop
padding; normalised with the published (0.1307, 0.3081) of that pipeline."""
from distill.data.idx_files import SIDE, IdxLayout, find_files, resized_loader
from distill.data.registry import DATA_CHECKS, DATA_INFO, DATASETS, DataInfo

LAYOUT = IdxLayout(title="MNIST", torchvision="MNIST")
META = {"num_classes": 10, "crop_padding": 0, "flip": False, "mean": (0.1307,), "std": (0.3081,)}


for _name, _size in (("mnist", SIDE), ("mnist32", 32)):
    DATASETS.register(_name)(resized_loader(lambda: LAYOUT, _size, META))
    DATA_CHECKS.register(_name)(lambda root: find_files(root, LAYOUT))
    DATA_INFO.register(_name)(DataInfo(num_classes=10, in_channels=1, image_size=(_size, _size), flip=False))
