"""LeNet-5 and LeNet-5-half as in DAFL's official code (Chen et al. 2019, ``lenet.py``):
conv 5x5 (1->6; half 3), ReLU, maxpool 2; conv 5x5 (6->16; half 8), ReLU, maxpool 2;
conv 5x5 (16->120; half 60), ReLU; FC 120->84 (half 60->42), ReLU; FC 84->classes
(42->classes). 32x32 input: 32 -> 28 -> 14 -> 10 -> 5 -> 1. PyTorch's default
initialisation, as the official code.

In the feature contract (``distill/models/features.py``) each conv layer with its
ReLU and pooling is one stage, so ``stage_channels`` = (6, 16, 120) (half: (3, 8, 60))
at 14x14, 5x5 and 1x1:

- ``stem`` is the input itself (no stem layers; ``stem_channels`` = ``in_channels``).
- A stage computes ``conv -> maxpool -> ReLU``: max pooling commutes with ReLU exactly
  (``max(relu(a), relu(b)) == relu(max(a, b))``), so its output is bit for bit the
  official ``conv -> ReLU -> maxpool``, and ``stages_pre`` (the pooled conv map, before
  the ReLU) satisfies ``stages == relu(stages_pre)`` as on every post-activation net.
- ``embedding`` is the last stage's 120-d (60-d) map, flattened (globally pooled: on
  32x32 input it is 1x1): DAFL's teacher feature f_T; ``fc`` is the two-layer
  classifier (FC, ReLU, FC) it feeds, so ``model.fc(embedding) == logits``.

``input_size`` (32x32) is the image size the network is built for; validation rejects
a data set of another size (``mnist32``, not the 28x28 ``mnist``)."""
import functools

import torch
from torch import nn

from distill.models.features import StagedNetwork
from distill.models.registry import MODELS


class ConvPoolBlock(nn.Module):
    """conv 5x5 (valid), optional 2x2 max pooling, ReLU; ``block(x) == relu(block.residual_sum(x))``
    (the name ``run_stage`` reads; there is no residual here)."""

    def __init__(self, in_channels: int, out_channels: int, pool: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=5)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2) if pool else nn.Identity()
        self.activation = nn.ReLU()

    def residual_sum(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.residual_sum(x))


class LeNet5(StagedNetwork):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 32,
                 widths=(6, 16, 120), hidden: int = 84):
        super().__init__()
        if image_size < 32:
            raise ValueError(f"LeNet-5 needs images of 32x32 or more (three 5x5 convs, two 2x2 pools), got {image_size}")
        channels = (in_channels,) + tuple(widths)
        self.stages = nn.ModuleList(
            nn.Sequential(ConvPoolBlock(channels[i], channels[i + 1], pool=i < len(widths) - 1))
            for i in range(len(widths)))
        self.fc = nn.Sequential(nn.Linear(widths[-1], hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
        self.embedding_dim = widths[-1]
        self.stem_channels = in_channels
        self.stage_channels = tuple(widths)
        self.input_size = (image_size, image_size)

    def stem_forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


MODELS.register("lenet5")(LeNet5)
MODELS.register("lenet5_half")(functools.partial(LeNet5, widths=(3, 8, 60), hidden=42))
