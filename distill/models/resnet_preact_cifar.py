"""Pre-activation bottleneck ResNets for CIFAR (He et al., 2016, "Identity
mappings in deep residual networks"): depth 9n + 2, three stages of n
bottlenecks (1x1, 3x3, 1x1 convolutions, BN-ReLU before each), widths 16/32/64
expanded x4 (stage outputs 64/128/256), a 1x1 projection where the shape
changes, a final BN-ReLU before pooling. ResNet-164: n = 18, 1,703,258 parameters
for 10 classes (He et al.'s 1.7M).

``resnet164_n27``: the same blocks, n = 27 per stage, as an older, widely copied
pre-activation builder makes for ``depth=164`` (it counts a bottleneck as two layers,
n = (depth - 2) / 6): 2,537,882 parameters for 10 classes, 2,561,012 for 100. Seed 000's
Table 7 gives ResNet-164 "2.6" M parameters, which is this network's size, not He et
al.'s."""
import functools

import torch.nn.functional as F
from torch import nn

from distill.models.features import PreActivationNetwork
from distill.models.registry import MODELS
from distill.models.stages import build_stages

EXPANSION = 4


class PreActBottleneck(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        mid = out_channels // EXPANSION
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_channels, 1, bias=False)
        same = in_channels == out_channels and stride == 1
        self.shortcut = None if same else nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
        self.activation = nn.Identity()   # pre-activation: the next block normalises and activates

    def residual_sum(self, x):
        pre = F.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(F.relu(self.bn2(out)))
        out = self.conv3(F.relu(self.bn3(out)))
        return out + (x if self.shortcut is None else self.shortcut(pre))

    def forward(self, x):
        return self.residual_sum(x)


class PreActResNet(PreActivationNetwork):
    def __init__(self, depth: int, num_classes: int = 10, in_channels: int = 3, layers_per_block: int = 3):
        super().__init__()
        if (depth - 2) % (3 * layers_per_block):
            raise ValueError(f"pre-activation bottleneck ResNet depth must be {3 * layers_per_block}n+2, got {depth}")
        blocks = (depth - 2) // (3 * layers_per_block)
        widths = [16 * EXPANSION, 32 * EXPANSION, 64 * EXPANSION]
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.stages, channels = build_stages(PreActBottleneck, 16, widths, blocks)
        self.bn = nn.BatchNorm2d(channels)
        self.fc = nn.Linear(channels, num_classes)
        self.embedding_dim = channels
        self.stem_channels = 16
        self.stage_channels = tuple(widths)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


MODELS.register("resnet164")(functools.partial(PreActResNet, 164))
# the older builder's depth arithmetic: two "layers" per bottleneck, so 27 bottlenecks a stage
MODELS.register("resnet164_n27")(functools.partial(PreActResNet, 164, layers_per_block=2))
