"""The FSP ("flow of solution procedure") matrix of Yim et al. (2017), as
RepDistiller's FSP.py: between two maps of one network, the larger pooled to
the smaller's H x W, G_ij = (1 / (H*W)) sum over positions of F1_i * F2_j,
(B, m, n). Methods compare G_s and G_t by the mean of the squared difference
over batch and entries, summed over the pairs of stages."""
import torch

from distill.losses.attention_transfer import pool_to_match
from distill.losses.kl_divergence import upcast


def fsp_matrix(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    a, b = pool_to_match(upcast(first), upcast(second))
    positions = a.shape[-2] * a.shape[-1]
    return torch.bmm(a.flatten(2), b.flatten(2).transpose(1, 2)) / positions


def fsp_loss(student_pairs, teacher_pairs) -> torch.Tensor:
    """``*_pairs``: sequences of (first, second) maps; sum over pairs of mean((G_s - G_t)^2)."""
    return sum((fsp_matrix(*s) - fsp_matrix(*t)).pow(2).mean() for s, t in zip(student_pairs, teacher_pairs))
