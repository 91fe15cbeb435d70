"""Wide ResNets of Zagoruyko & Komodakis (2016): pre-activation blocks,
widths 16k/32k/64k, depth = 6n + 4; 1x1 projections where the shape changes."""
import functools

import torch.nn.functional as F
from torch import nn

from distill.models.features import PreActivationNetwork
from distill.models.registry import MODELS
from distill.models.stages import build_stages


class WideBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        same = in_channels == out_channels and stride == 1
        self.shortcut = None if same else nn.Conv2d(in_channels, out_channels, 1, stride, 0, bias=False)
        self.activation = nn.Identity()   # pre-activation: the next block normalises and activates

    def forward(self, x):
        return self.residual_sum(x)

    def residual_sum(self, x):
        pre = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(pre))))
        return out + (x if self.shortcut is None else self.shortcut(pre))


class WideResNet(PreActivationNetwork):
    def __init__(self, depth: int, widen: int, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"WRN depth must be 6n+4, got {depth}")
        blocks = (depth - 4) // 6
        widths = [16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.stages, channels = build_stages(WideBlock, 16, widths, blocks)
        self.bn = nn.BatchNorm2d(channels)
        self.fc = nn.Linear(channels, num_classes)
        self.embedding_dim = channels
        self.stem_channels = 16
        self.stage_channels = tuple(widths)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


for _depth, _widen in ((10, 4), (16, 2), (16, 4), (16, 8), (22, 4), (28, 10), (40, 2), (40, 4)):
    MODELS.register(f"wrn_{_depth}_{_widen}")(functools.partial(WideResNet, _depth, _widen))
