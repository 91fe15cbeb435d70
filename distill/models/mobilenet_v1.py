"""MobileNetV1 (Howard et al. 2017, Table 1): a 3x3 conv of 32 channels at stride 2,
then 13 depthwise-separable blocks (3x3 depthwise conv, BN, ReLU, 1x1 pointwise
conv, BN, ReLU) of widths 64, 128, 128, 256, 256, 512 x 6, 1024, 1024, the first
block of each new width but 64 at stride 2 (the second 1024 block at stride 1: Table 1
prints s2 there, but its map stays 7x7, and the reference implementation uses 1),
global average pooling, FC. No convolution has a
bias (BN follows each). 4,231,976 parameters for 1000 classes (the paper's 4.2M).

A width multiplier ``width`` (the paper's alpha) scales every channel count to
``max(int(c * width), 8)``, the rounding of the reference implementation
(``mobilenet_v1_w025``: 8, 16, ..., 256 channels).

In the feature contract (``distill/models/features.py``) the resolution stages are:

- ``stem``: conv1 (stride 2) and the first separable block (64 channels, stride 1):
  the stride-2 map, ``stem_channels`` = 64;
- ``stages``: the blocks of 128 (stride 4), 256 (stride 8), 512 (stride 16) and
  1024 channels (stride 32), so ``stage_channels`` = (128, 256, 512, 1024); at
  256x128 input the maps are 64x32, 32x16, 16x8 and 8x4;
- ``stages_pre``: the last block's pointwise BN output before its ReLU;
- ``embedding``: the last map, globally average pooled (1024-d; ``embedding_dim``),
  the input of ``fc``.

Any input size works (global pooling; at 32x32 the last map is 1x1).

State dict layout (for converting ImageNet weights from elsewhere): ``conv1``,
``bn1``, ``stem_block.{depthwise,bn1,pointwise,bn2}``, then
``stages.<stage>.<block>.{depthwise,bn1,pointwise,bn2}``, ``fc``."""
import functools
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from distill.models.features import StagedNetwork
from distill.models.registry import MODELS

# (output channels, stride) of the 13 separable blocks, grouped: the stem's block, then one group a stage
STEM_BLOCK = (64, 1)
STAGES = (((128, 2), (128, 1)),
          ((256, 2), (256, 1)),
          ((512, 2),) + ((512, 1),) * 5,
          ((1024, 2), (1024, 1)))
MIN_CHANNELS = 8


def scaled(channels: int, width: float) -> int:
    return max(int(channels * width), MIN_CHANNELS)


class SeparableBlock(nn.Module):
    """3x3 depthwise conv, BN, ReLU, 1x1 pointwise conv, BN, ReLU;
    ``block(x) == relu(block.residual_sum(x))`` (the name ``run_stage`` reads; there is no residual)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, stride, 1, groups=in_channels, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.activation = nn.ReLU()

    def residual_sum(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.pointwise(F.relu(self.bn1(self.depthwise(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.residual_sum(x))


class MobileNetV1(StagedNetwork):
    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0,
                 stages: Sequence[Sequence[tuple]] = STAGES):
        super().__init__()
        first = scaled(32, width)
        self.conv1 = nn.Conv2d(in_channels, first, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(first)
        channels = scaled(STEM_BLOCK[0], width)
        self.stem_block = SeparableBlock(first, channels, STEM_BLOCK[1])
        self.stem_channels = channels
        groups, widths = [], []
        for group in stages:
            blocks = []
            for out, stride in group:
                blocks.append(SeparableBlock(channels, scaled(out, width), stride))
                channels = scaled(out, width)
            groups.append(nn.Sequential(*blocks))
            widths.append(channels)
        self.stages = nn.ModuleList(groups)
        self.fc = nn.Linear(channels, num_classes)
        self.stage_channels = tuple(widths)
        self.embedding_dim = channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def stem_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem_block(F.relu(self.bn1(self.conv1(x))))


MODELS.register("mobilenet_v1")(MobileNetV1)
MODELS.register("mobilenet_v1_w025")(functools.partial(MobileNetV1, width=0.25))
