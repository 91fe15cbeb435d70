"""SCD's similarity knowledge (our reconstruction of seed 002): for a stage map
F (B, C, H, W), the attention map a = L2-normalise(vec(mean_c F^2)) per sample
(``attention_map``, as AT), the batch similarity G = rownorm(a a^T) (B x B, so
stages of any spatial size compare without resizing), and the gap between two
such matrices ``||G - G_target||_F^2 / B^2`` (the SP scale, hence a weight
around 3000). The target is used as given: callers detach it."""
import torch

from distill.losses.attention_transfer import attention_similarity


def similarity_gap(similarity: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``||G - G_target||_F^2 / B^2`` for two (B, B) matrices."""
    batch = similarity.shape[0]
    return (similarity - target).pow(2).sum() / (batch * batch)


def attention_similarity_gap(feature: torch.Tensor, target_feature: torch.Tensor) -> torch.Tensor:
    return similarity_gap(attention_similarity(feature), attention_similarity(target_feature))


__all__ = ["attention_similarity", "attention_similarity_gap", "similarity_gap"]
