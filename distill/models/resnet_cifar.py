"""CIFAR ResNets of He et al. (2016): 3 stages of basic blocks, 16/32/64 channels,
option-A (parameter-free) shortcuts, depth = 6n + 2."""
import functools

import torch.nn.functional as F
from torch import nn

from distill.models.features import StagedNetwork
from distill.models.registry import MODELS
from distill.models.stages import build_stages


class ShortcutA(nn.Module):
    """Subsample and zero-pad channels: the shortcut that gives the paper's param counts."""

    def __init__(self, out_channels: int, in_channels: int):
        super().__init__()
        self.pad = out_channels - in_channels

    def forward(self, x):
        x = x[:, :, ::2, ::2]
        return F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        needs_projection = stride != 1 or in_channels != out_channels
        self.shortcut = ShortcutA(out_channels, in_channels) if needs_projection else nn.Identity()
        self.activation = nn.ReLU()

    def residual_sum(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out)) + self.shortcut(x)

    def forward(self, x):
        return F.relu(self.residual_sum(x))


class CifarResNet(StagedNetwork):
    def __init__(self, depth: int, num_classes: int = 10, in_channels: int = 3, widths=(16, 32, 64)):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        blocks = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.stages, channels = build_stages(BasicBlock, widths[0], widths, blocks)
        self.fc = nn.Linear(channels, num_classes)
        self.embedding_dim = channels
        self.stem_channels = widths[0]
        self.stage_channels = tuple(widths)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def stem_forward(self, x):
        return F.relu(self.bn1(self.conv1(x)))


for _depth in (8, 14, 20, 26, 32, 44, 56, 110):
    MODELS.register(f"resnet{_depth}")(functools.partial(CifarResNet, _depth))
