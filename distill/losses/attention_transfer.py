"""Attention maps (Zagoruyko & Komodakis, 2017; the official ``at``/``at_loss``).

Conventions: a(F) = L2-normalise over positions of vec(mean over channels of |F|^p),
p = 2 by default (mean or sum over channels is the same after normalising);
the loss is the mean over batch and positions of (a_s - a_t)^2 (squared, no
1/2: the code form). The method's weight (beta = 1000) is applied by callers.
When the two maps differ in size, the larger is average-pooled to the smaller
first (RepDistiller's rule). Targets are used as given: callers detach them
(or pass inference-mode outputs)."""
from typing import Sequence

import torch
import torch.nn.functional as F

from distill.losses.kl_divergence import upcast


def pool_to_match(a: torch.Tensor, b: torch.Tensor):
    """Average-pool whichever of two (B, C, H, W) maps is larger to the other's H x W."""
    if a.shape[-2:] == b.shape[-2:]:
        return a, b
    if a.shape[-2] * a.shape[-1] > b.shape[-2] * b.shape[-1]:
        return F.adaptive_avg_pool2d(a, b.shape[-2:]), b
    return a, F.adaptive_avg_pool2d(b, a.shape[-2:])


def _energy(feature: torch.Tensor, p: float) -> torch.Tensor:
    """(B, C, H, W) -> (B, H, W): mean over channels of |F|^p, in at least float32."""
    x = upcast(feature)
    return (x.pow(2) if p == 2 else x.abs().pow(p)).mean(1)


def attention_map(feature: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """(B, C, H, W) -> (B, H*W), each row of unit L2 norm."""
    return F.normalize(_energy(feature, p).flatten(1), dim=1)


def attention_loss(student_feature: torch.Tensor, teacher_feature: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    s, t = pool_to_match(student_feature, teacher_feature)
    return (attention_map(s, p) - attention_map(t, p)).pow(2).mean()


def multiscale_attention(feature: torch.Tensor, scales: Sequence[int] = (1, 2, 4), p: float = 2.0):
    """HKSANC's hierarchical attention (our reconstruction): the energy map average-pooled
    to each s x s grid (s capped at the map's size), flattened and L2-normalised per sample.
    Returns one (B, s*s) tensor per scale."""
    energy = _energy(feature, p).unsqueeze(1)
    height, width = energy.shape[-2:]
    return [F.normalize(F.adaptive_avg_pool2d(energy, (min(s, height), min(s, width))).flatten(1), dim=1)
            for s in scales]


def multiscale_attention_loss(student_feature: torch.Tensor, teacher_feature: torch.Tensor,
                              scales: Sequence[int] = (1, 2, 4), p: float = 2.0) -> torch.Tensor:
    """Sum over scales of the mean over batch and cells of the squared difference.
    A 1x1 grid is a constant 1 after normalising, so it adds 0: the scale list keeps it
    only so the hierarchy reads as in the paper."""
    s, t = pool_to_match(student_feature, teacher_feature)
    return sum((a - b).pow(2).mean() for a, b in zip(multiscale_attention(s, scales, p), multiscale_attention(t, scales, p)))


def attention_similarity(feature: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """(B, B): the batch similarity of attention maps, G = a a^T with rows L2-normalised,
    so stages of any spatial size compare (for self-distillation methods)."""
    a = attention_map(feature, p)
    return F.normalize(a @ a.t(), dim=1)
