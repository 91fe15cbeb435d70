"""Self-Attention Distillation (Hou et al., 2019; recalled, not checked against
code): a stage's attention A = mean_c F_c^2 (B, H, W), bilinearly resized to the
shallower stage's H x W, then a spatial softmax over the H*W positions. The loss
between a stage and the next deeper one is the squared L2 distance of the two
softmaxed maps, summed over positions and averaged over the batch. The deeper
map is the target and is used as given: callers detach it.

The paper sums over channels; the mean (the sum over C) is ours: the spatial
softmax is not scale-invariant, and on the sum it is nearly one-hot on wide
stages (peaks above 0.95 on digits), so the term's gradient vanishes."""
from typing import Sequence

import torch
import torch.nn.functional as F

from distill.losses.kl_divergence import upcast


def sad_attention(feature: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """(B, C, H, W) -> (B, h*w): channel energy resized to ``size`` = (h, w), spatial softmax."""
    energy = upcast(feature).pow(2).mean(1, keepdim=True)
    if tuple(energy.shape[-2:]) != tuple(size):
        energy = F.interpolate(energy, size=tuple(size), mode="bilinear", align_corners=False)
    return F.softmax(energy.flatten(1), dim=1)


def sad_loss(feature: torch.Tensor, deeper_feature: torch.Tensor) -> torch.Tensor:
    size = feature.shape[-2:]
    return (sad_attention(feature, size) - sad_attention(deeper_feature, size)).pow(2).sum(1).mean()
