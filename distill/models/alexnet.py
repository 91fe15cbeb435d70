"""AlexNet and AlexNet-half as in Lopes et al.'s ``replayed_distillation``
(``models/alex.py``, ``models/alex_half.py``), the teacher and student of DAFL's
CelebA experiment:

conv 11x11/4 (64), ReLU, maxpool 3/2; conv 5x5 (192), ReLU, maxpool 3/2; conv 3x3
(384), ReLU; conv 3x3 (384), ReLU; conv 3x3 (256), ReLU, maxpool 3/2; FC 7*7*256 ->
4096, ReLU, dropout 0.5; FC 4096 -> 4096, ReLU, dropout 0.5; FC 4096 -> classes.
AlexNet-half halves every width (32, 96, 192, 192, 128; FC 2048, 2048). No local
response normalisation and no grouped convolutions: the reference has neither.

Padding is TensorFlow's 'SAME', exactly: a map of n pixels becomes ceil(n / stride),
padded by max((out - 1) * stride + kernel - n, 0) in all, the odd pixel at the end
(bottom, right); max pooling pads with -inf, as TF's pooling ignores its padding.
At 224: 224 -> 56 (conv1) -> 28 (pool1) -> 14 (pool2) -> 7 (pool5).

Feature contract (``features.py``), staged like LeNet-5 (``lenet.py``):

- ``stem`` is the input itself (``stem_channels`` = ``in_channels``).
- Three stages: conv1 + pool1, conv2 + pool2, conv3..conv5 + pool5; ``stage_channels``
  (64, 192, 256), half (32, 96, 128), at 28, 14 and 7 px on 224 input. A stage's last
  conv computes ``conv -> maxpool -> ReLU``: max pooling commutes with ReLU exactly
  (with -inf padding too, every window holding a real pixel), so it is bit for bit the
  reference's ``conv -> ReLU -> maxpool``, and ``stages_pre`` is the pooled map before
  the ReLU.
- ``embedding`` is fc7's output after its ReLU (4096; half 2048): the input of the
  last linear layer, as a ResNet's pooled feature is its ``fc``'s input. ``fc`` is fc8
  alone, so ``model.fc(embedding) == logits`` in eval mode (in training the second
  dropout sits between). DAFL's activation loss reads it on the teacher; fc6/fc7 are
  the head (``head_modules``), so ``ModelTail`` replays them with the last stage.
- An adaptive average pool to 7x7 precedes fc6: the identity at 224 (torchvision's
  AlexNet has one too), and what lets the network run on 64x64 images (``celeba64``),
  whose 2x2 pool5 map it spreads over the 7x7 grid fc6 was sized for.

Initialisation as the reference: weights truncated normal (at two standard deviations,
TF's ``truncated_normal``) of std sqrt(2 / fan_in), biases 0.01; fc8's std is
sqrt(2 / 4096) in both networks (``alex_half.py`` kept ``alex.py``'s constant).

Parameters for 2 classes: alexnet 71,380,930 (71.4M), alexnet_half 17,855,458 (17.9M);
fc6 alone holds 51.4M (12.8M), at 64x64 as at 224."""
import functools
import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from distill.models.features import StagedNetwork
from distill.models.registry import MODELS

POOLED = 7          # pool5's side at 224 px, the grid fc6 reads
POOL, POOL_STRIDE = 3, 2
FC8_FAN_IN = 4096   # the reference's fc8 std constant, kept by AlexNet-half


def truncated_normal_(weight: torch.Tensor, std: float) -> None:
    """TF's ``truncated_normal``: normal draws beyond two std redrawn until none is. Redrawing the
    ~5% outliers is ~6x faster on CPU than ``nn.init.trunc_normal_``'s erfinv over fc6's 51M weights."""
    if weight.is_meta:   # validation builds shapes only
        return
    with torch.no_grad():
        flat = weight.view(-1).normal_(0.0, std)
        redraw = (flat.abs() > 2 * std).nonzero().squeeze(1)
        while len(redraw):
            flat[redraw] = torch.empty(len(redraw), dtype=flat.dtype, device=flat.device).normal_(0.0, std)
            redraw = redraw[flat[redraw].abs() > 2 * std]


def same_padding(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """(before, after) padding of TF 'SAME' along one axis of ``size`` pixels."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    top, bottom = same_padding(x.shape[-2], kernel, stride)
    left, right = same_padding(x.shape[-1], kernel, stride)
    return F.pad(x, (left, right, top, bottom), value=value)


class SameConvBlock(nn.Module):
    """conv with TF 'SAME' padding, optional 3x3/2 'SAME' max pooling, ReLU;
    ``block(x) == relu(block.residual_sum(x))`` (the name ``run_stage`` reads; no residual here)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, pool: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=kernel, stride=stride)
        self.pool = pool
        self.activation = nn.ReLU()

    def residual_sum(self, x: torch.Tensor) -> torch.Tensor:
        kernel, stride = self.conv.kernel_size[0], self.conv.stride[0]
        x = self.conv(pad_same(x, kernel, stride))
        if self.pool:
            x = F.max_pool2d(pad_same(x, POOL, POOL_STRIDE, float("-inf")), POOL, POOL_STRIDE)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.residual_sum(x))


class AlexNet(StagedNetwork):
    head_modules = ("avgpool", "hidden", "dropout", "fc")

    def __init__(self, num_classes: int = 2, in_channels: int = 3, widths=(64, 192, 384, 384, 256),
                 hidden: int = 4096, dropout: float = 0.5):
        super().__init__()
        c1, c2, c3, c4, c5 = widths
        self.stages = nn.ModuleList([
            nn.Sequential(SameConvBlock(in_channels, c1, 11, stride=4, pool=True)),
            nn.Sequential(SameConvBlock(c1, c2, 5, pool=True)),
            nn.Sequential(SameConvBlock(c2, c3, 3), SameConvBlock(c3, c4, 3), SameConvBlock(c4, c5, 3, pool=True)),
        ])
        self.avgpool = nn.AdaptiveAvgPool2d(POOLED)
        self.hidden = nn.Sequential(nn.Linear(c5 * POOLED * POOLED, hidden), nn.ReLU(), nn.Dropout(dropout),
                                    nn.Linear(hidden, hidden), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, num_classes)
        self.stem_channels = in_channels
        self.stage_channels = (c1, c2, c5)
        self.embedding_dim = hidden
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = FC8_FAN_IN if module is self.fc else module.weight[0].numel()
                truncated_normal_(module.weight, math.sqrt(2.0 / fan_in))
                nn.init.constant_(module.bias, 0.01)

    def stem_forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def head(self, out: torch.Tensor):
        embedding = self.hidden(torch.flatten(self.avgpool(out), 1))
        return embedding, self.fc(self.dropout(embedding))


MODELS.register("alexnet")(AlexNet)
MODELS.register("alexnet_half")(functools.partial(AlexNet, widths=(32, 96, 192, 192, 128), hidden=2048))
