"""Data sets as uint8 image tensors (N, C, H, W) plus int64 labels, split into
train / validation (held out of train, fixed seed) / test. Selection uses the
validation split only; the test split is reported, never selected on."""
from distill.data.registry import DATA_INFO, DATASETS, DataInfo, ImageSet, Splits, check_data, load_splits
from distill.data import digits, cifar, tiny_imagenet  # noqa: F401  (registers)
from distill.data import mnist, fashion_mnist, usps, printed_digits  # noqa: F401  (registers)
from distill.data import market1501, market_smoke  # noqa: F401  (registers)
from distill.data import celeba, celeba_smoke  # noqa: F401  (registers)
from distill.data import imagenet  # noqa: F401  (registers)

__all__ = ["DATA_INFO", "DATASETS", "DataInfo", "ImageSet", "Splits", "check_data", "load_splits"]
