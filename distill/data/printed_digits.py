"""Printed digits: 0-9 rendered with Pillow's bundled font at random sizes, offsets and
small rotations, white on black like scikit-learn's handwritten digits. Offline and
deterministic (fixed seeds), it is to ``digits`` what USPS is to MNIST: the same ten
classes from another source, so a smoke run has DAFL's "alternative data" baseline
(``data.transfer: printed_digits32`` for a ``digits32`` teacher) without a download.
``printed_digits`` is 8x8 (as ``digits``), ``printed_digits32`` 32x32. 1,500 training
and 300 test images."""
from typing import Tuple

import numpy as np
import torch

from distill.data.registry import DATA_INFO, DATASETS, DataInfo, ImageSet

CANVAS = 32
SIZES = {"train": 1500, "test": 300}
SEEDS = {"train": 0, "test": 1}
META = {"num_classes": 10, "crop_padding": 0, "flip": False}


def render(n: int, seed: int, side: int) -> Tuple[np.ndarray, np.ndarray]:
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.RandomState(seed)
    images = np.empty((n, 1, side, side), np.uint8)
    labels = (np.arange(n) % 10).astype(np.int64)
    fonts = {}
    for i, digit in enumerate(labels):
        size = int(rng.randint(26, 37))
        font = fonts.setdefault(size, ImageFont.load_default(size=size))
        canvas = Image.new("L", (CANVAS, CANVAS))
        centre = (CANVAS / 2 + rng.uniform(-3, 3), CANVAS / 2 + rng.uniform(-3, 3))
        ImageDraw.Draw(canvas).text(centre, str(digit), fill=int(rng.randint(180, 256)), font=font, anchor="mm")
        canvas = canvas.rotate(float(rng.uniform(-12, 12)), resample=Image.BILINEAR)
        if side != CANVAS:
            canvas = canvas.resize((side, side), Image.BILINEAR)
        images[i, 0] = np.asarray(canvas, dtype=np.uint8)
    return images, labels


def _loader(side: int):
    def load(root=None):
        parts = []
        for split in ("train", "test"):
            images, labels = render(SIZES[split], SEEDS[split], side)
            parts.append(ImageSet(torch.from_numpy(images), torch.from_numpy(labels)))
        return parts[0], parts[1], dict(META)
    return load


for _name, _side in (("printed_digits", 8), ("printed_digits32", 32)):
    DATASETS.register(_name)(_loader(_side))
    DATA_INFO.register(_name)(DataInfo(num_classes=10, in_channels=1, image_size=(_side, _side), flip=False))
