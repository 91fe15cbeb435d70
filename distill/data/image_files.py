"""A split read from image files as it trains (ImageNet: 1.28M JPEGs do not fit in memory),
beside ``ImageSet``, which holds a split as one uint8 tensor.

The transforms are the standard ImageNet ones (torchvision's reference recipe):
training: a random-resized crop (scale 0.08-1, aspect 3/4-4/3, ten tries, else the centre
crop of the largest allowed aspect) to ``size`` and a horizontal flip with probability 1/2;
evaluation: the shorter side resized to ``resize``, then the centre ``size`` x ``size``
crop. Normalisation (the ImageNet mean and std) is the trainer's, on the device.

Every random draw of a batch comes from one seed the trainer gives it, so a batch is the
same whichever process decodes it, and on CPU or GPU (``data.decode``): the crop boxes are
drawn on the CPU, before decoding."""
import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch

Box = Tuple[int, int, int, int]   # top, left, height, width
# torchvision 0.29 marks its JPEG decoders deprecated in favour of TorchCodec, which the pinned
# stack does not have; they are what it ships (libjpeg-turbo on CPU, nvJPEG on CUDA)
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision",
                        category=DeprecationWarning)


@dataclass
class ImageFiles:
    paths: Tuple[str, ...]
    labels: torch.Tensor          # int64 (N,)
    size: int = 224               # the networks' input: size x size
    resize: int = 256             # evaluation: the shorter side before the centre crop
    extras: Dict[str, torch.Tensor] = field(default_factory=dict)
    decode: str = "cpu"           # data.decode: where JPEGs are decoded (cpu workers, or the device)
    loader_workers: int = 0       # data.loader_workers: DataLoader processes per training process
    kind = "files"                # which batchers read it (``distill/data/file_batches.py``)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def image_shape(self) -> Tuple[int, int, int]:
        return (3, self.size, self.size)

    def subset(self, index: torch.Tensor) -> "ImageFiles":
        picked = index.tolist()
        return dataclasses.replace(self, paths=tuple(self.paths[i] for i in picked), labels=self.labels[index],
                                   extras={k: v[index] for k, v in self.extras.items()})

    def read_with(self, data_cfg) -> "ImageFiles":
        return dataclasses.replace(self, decode=data_cfg.decode, loader_workers=data_cfg.loader_workers)

    def to(self, device) -> "ImageFiles":
        return self   # read from disk batch by batch, wherever the run trains


TRIES = 10


def crop_draws(generator: torch.Generator) -> torch.Tensor:
    """The random numbers of one random-resized crop, drawn before the image's size is known
    (its file is decoded later, maybe on the GPU): per try, area fraction, log aspect, and the
    top and left positions as fractions of the room left."""
    return torch.rand(TRIES, 4, generator=generator, dtype=torch.float64)


def crop_box(height: int, width: int, draws: torch.Tensor, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)) -> Box:
    """torchvision's ``RandomResizedCrop.get_params`` (ten tries, then the centre crop of the
    nearest allowed aspect), with its random numbers from ``draws``."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for fraction, log_aspect, row, col in draws.tolist():
        target = area * (scale[0] + fraction * (scale[1] - scale[0]))
        aspect = math.exp(log_ratio[0] + log_aspect * (log_ratio[1] - log_ratio[0]))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return min(int(row * (height - h + 1)), height - h), min(int(col * (width - w + 1)), width - w), h, w
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        h, w = height, int(round(height * ratio[1]))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def train_crop(image: torch.Tensor, box: Box, flip: bool, size: int) -> torch.Tensor:
    from torchvision.transforms.v2 import functional as F

    out = F.resized_crop(image, *box, size=[size, size], antialias=True)
    return out.flip(-1) if flip else out


def eval_crop(image: torch.Tensor, resize: int, size: int) -> torch.Tensor:
    from torchvision.transforms.v2 import functional as F

    return F.center_crop(F.resize(image, [resize], antialias=True), [size, size])


def read_bytes(path: str) -> torch.Tensor:
    from torchvision.io import read_file

    return read_file(path)


def decode(data: Sequence[torch.Tensor], device: torch.device) -> List[torch.Tensor]:
    """JPEG (or PNG) bytes -> (3, H, W) uint8 each; a list of JPEGs on CUDA is decoded as a batch
    by nvJPEG (``torchvision.io.decode_jpeg`` on the device)."""
    from torchvision.io import ImageReadMode, decode_image, decode_jpeg

    if device.type == "cuda" and all(bool(d[:2].eq(torch.tensor([0xFF, 0xD8], dtype=torch.uint8)).all()) for d in data):
        return decode_jpeg(list(data), mode=ImageReadMode.RGB, device=device)
    return [decode_image(d, mode=ImageReadMode.RGB).to(device) for d in data]


@dataclass
class Plan:
    """What one training batch is: which files, and the random numbers of each image's crops."""
    index: List[int]
    draws: Optional[torch.Tensor]     # (views, B, TRIES, 4); None: evaluation crops (no augmentation)
    flips: Optional[torch.Tensor]     # (views, B) bool


def plan_batch(index: List[int], seed: int, views: int, augment: bool, flip: bool = True) -> Plan:
    if not augment:
        return Plan(index, None, None)
    generator = torch.Generator().manual_seed(seed)
    draws = torch.stack([torch.stack([crop_draws(generator) for _ in index]) for _ in range(views)])
    flips = torch.rand(views, len(index), generator=generator) < 0.5
    return Plan(index, draws, flips & flip)


def transform(images: List[torch.Tensor], files: ImageFiles, plan: Plan, view: int) -> torch.Tensor:
    """A (B, 3, size, size) uint8 batch of one view (on the images' device)."""
    if plan.draws is None:
        return torch.stack([eval_crop(img, files.resize, files.size) for img in images])
    return torch.stack([train_crop(img, crop_box(img.shape[-2], img.shape[-1], draws), bool(flip), files.size)
                        for img, draws, flip in zip(images, plan.draws[view], plan.flips[view])])
