"""The two losses of Lopes et al.'s data-free distillation (top-layer variant), as its
reference code computes them (``_optimization_objectives.top_layer``, ``distill.py``)."""
import torch
import torch.nn.functional as F

from distill.losses.kl_divergence import upcast


def top_layer_reconstruction_loss(teacher_scaled_logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean((relu(target) - relu(teacher_logits / T))^2)`` over batch and units: an input
    is optimised until the teacher's temperature-scaled top layer matches a sample drawn
    from the recorded statistics (both rectified, as the reference does)."""
    return (F.relu(upcast(target)) - F.relu(upcast(teacher_scaled_logits))).square().mean()


def soft_cross_entropy(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``-sum_c softmax(t/T)_c log softmax(s/T)_c``, averaged over the batch, without Hinton's
    T^2 (the reference's ``softmax_cross_entropy_with_logits`` on both nets at T). The target
    is used as given: callers detach it."""
    target = F.softmax(upcast(teacher_logits) / temperature, dim=1)
    return -(target * F.log_softmax(upcast(student_logits) / temperature, dim=1)).sum(1).mean()
