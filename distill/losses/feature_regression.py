"""FitNets' hint regression. The student's guided map goes through a trainable
regressor (1x1 conv + BatchNorm, then a ReLU: RepDistiller's ``ConvReg`` with
``use_relu=True``, FitNets' rule that the regressor carries the hint layer's
non-linearity; ``relu=False`` drops it) to the teacher's channels, pooled to the
teacher's H x W when the sizes differ; the loss is the mean over all elements of
the squared difference (RepDistiller's HintLoss, ``nn.MSELoss``). The target is
used as given."""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from distill.losses.kl_divergence import upcast


class HintAdapter(nn.Module):
    def __init__(self, student_channels: int, teacher_channels: int, relu: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(student_channels, teacher_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(teacher_channels)
        self.relu = relu

    def forward(self, student_map: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        out = self.bn(self.conv(student_map))
        if self.relu:
            out = F.relu(out)
        if tuple(out.shape[-2:]) != tuple(size):
            out = F.adaptive_avg_pool2d(out, tuple(size))
        return out


def hint_loss(adapted_student: torch.Tensor, teacher_feature: torch.Tensor) -> torch.Tensor:
    return (upcast(adapted_student) - upcast(teacher_feature)).pow(2).mean()
