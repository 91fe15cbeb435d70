import torch

from distill.losses.kl_divergence import upcast


def l1_logits(logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    """``mean |z - z_target|`` over batch and classes (TADML's L1 alternative to JS)."""
    return (upcast(logits) - upcast(target_logits)).abs().mean()


def l2_logits(logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    """``mean (z - z_target)^2`` over batch and classes (TADML's L2 alternative to JS)."""
    return (upcast(logits) - upcast(target_logits)).pow(2).mean()
