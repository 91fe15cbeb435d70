"""ResNet-18 and ResNet-34 in the CIFAR form used by DAFL and SCD (after
kuangliu's pytorch-cifar): a 3x3 stem of 64 channels at stride 1 and no
max-pool, four stages of post-activation basic blocks (64/128/256/512
channels, [2,2,2,2] or [3,4,6,3] blocks), 1x1 conv + BN projections, global
pooling, FC. 11,173,962 and 21,282,122 parameters for 10 classes."""
import functools

import torch.nn.functional as F
from torch import nn

from distill.models.features import StagedNetwork
from distill.models.registry import MODELS

WIDTHS = (64, 128, 256, 512)


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))
        self.activation = nn.ReLU()

    def residual_sum(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out)) + self.shortcut(x)

    def forward(self, x):
        return F.relu(self.residual_sum(x))


class ResNet(StagedNetwork):
    def __init__(self, blocks, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, WIDTHS[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(WIDTHS[0])
        stages, channels = [], WIDTHS[0]
        for i, (width, count) in enumerate(zip(WIDTHS, blocks)):
            layers = []
            for b in range(count):
                layers.append(BasicBlock(channels, width, 2 if (b == 0 and i > 0) else 1))
                channels = width
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.fc = nn.Linear(channels, num_classes)
        self.embedding_dim = channels
        self.stem_channels = WIDTHS[0]
        self.stage_channels = WIDTHS

    def stem_forward(self, x):
        return F.relu(self.bn1(self.conv1(x)))


MODELS.register("resnet18")(functools.partial(ResNet, (2, 2, 2, 2)))
MODELS.register("resnet34")(functools.partial(ResNet, (3, 4, 6, 3)))
