"""Similarity-preserving KD (Tung & Mori, 2019), as RepDistiller's SP.py:
Q = F flattened to (B, C*H*W); G = Q Q^T; each row of G L2-normalised;
loss = sum over the B x B entries of (G_t - G_s)^2 divided by B^2. The method's
weight (gamma = 3000) is applied by callers; the target is used as given."""
import torch
import torch.nn.functional as F

from distill.losses.kl_divergence import upcast


def similarity_matrix(feature: torch.Tensor) -> torch.Tensor:
    q = upcast(feature).flatten(1)
    return F.normalize(q @ q.t(), dim=1)


def similarity_preserving_loss(student_feature: torch.Tensor, teacher_feature: torch.Tensor) -> torch.Tensor:
    batch = student_feature.shape[0]
    diff = similarity_matrix(teacher_feature) - similarity_matrix(student_feature)
    return diff.pow(2).sum() / (batch * batch)
