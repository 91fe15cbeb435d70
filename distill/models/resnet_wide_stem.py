"""ResNet-18 and ResNet-34 in the CIFAR form used by DAFL and SCD (after
kuangliu's pytorch-cifar): a 3x3 stem of 64 channels at stride 1 and no
max-pool, four stages of post-activation basic blocks (64/128/256/512
channels, [2,2,2,2] or [3,4,6,3] blocks), 1x1 conv + BN projections, global
pooling, FC. 11,173,962 and 21,282,122 parameters for 10 classes.

``resnet18_imagenet`` / ``resnet34_imagenet``: the same stages behind torchvision's ImageNet
stem (7x7 convolution at stride 2, BN, ReLU, 3x3 max-pool at stride 2), i.e. torchvision's
``resnet18``/``resnet34`` (11,689,512 and 21,797,672 parameters for 1,000 classes); the four
stages are at 1/4, 1/8, 1/16 and 1/32 of the input, 56 to 7 pixels at 224x224."""
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
    def __init__(self, blocks, num_classes: int = 10, in_channels: int = 3, imagenet_stem: bool = False):
        super().__init__()
        self.imagenet_stem = imagenet_stem
        self.conv1 = (nn.Conv2d(in_channels, WIDTHS[0], 7, 2, 3, bias=False) if imagenet_stem
                      else nn.Conv2d(in_channels, WIDTHS[0], 3, 1, 1, bias=False))
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
        out = F.relu(self.bn1(self.conv1(x)))
        return F.max_pool2d(out, 3, 2, 1) if self.imagenet_stem else out


MODELS.register("resnet18")(functools.partial(ResNet, (2, 2, 2, 2)))
MODELS.register("resnet34")(functools.partial(ResNet, (3, 4, 6, 3)))
MODELS.register("resnet18_imagenet")(functools.partial(ResNet, (2, 2, 2, 2), imagenet_stem=True))
MODELS.register("resnet34_imagenet")(functools.partial(ResNet, (3, 4, 6, 3), imagenet_stem=True))
