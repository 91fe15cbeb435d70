"""DAFL's losses (Chen et al., ICCV 2019) with the official code's conventions
(huawei-noah/Efficient-Computing, DAFL/DAFL-train.py; research/methods.md 5.3).

Generator: ``L_G = w_oh one_hot_loss + w_a activation_loss + w_ie information_entropy_loss``
on the frozen teacher's outputs for generated images. Student:
``data_free_kd_loss`` on detached generated images. All computed in at least
float32 (``upcast``); float64 inputs stay float64."""
import torch
import torch.nn.functional as F

from distill.losses.kl_divergence import soft_kl, upcast


def one_hot_loss(teacher_logits: torch.Tensor) -> torch.Tensor:
    """``CE(z_T, argmax z_T)``, averaged over the batch: the teacher's own argmax
    is the pseudo-label. The argmax is not differentiated (an index); a row whose
    maximum is tied gives the same value whichever tied class argmax picks."""
    z = upcast(teacher_logits)
    return F.cross_entropy(z, z.argmax(dim=1))


def activation_loss(teacher_features: torch.Tensor) -> torch.Tensor:
    """``-mean(|f_T|)``, the mean over the batch and all feature dims: the official
    code's mean, i.e. the paper's per-sample L1 norm divided by the feature size."""
    return -upcast(teacher_features).abs().mean()


def information_entropy_loss(teacher_logits: torch.Tensor) -> torch.Tensor:
    """``sum_c pbar_c log10(pbar_c)``, pbar the batch-mean softmax of the teacher's
    logits. Log base 10 as the official code; it is the negative entropy of pbar
    (minimised, it balances the classes over the batch; 0 for one class only,
    -log10(K) at uniform). pbar is clamped at the dtype's smallest normal inside
    the log only, so a class whose mean probability underflows to 0 adds 0 (the
    limit) instead of the official code's nan; elsewhere it is the official value."""
    p_bar = F.softmax(upcast(teacher_logits), dim=1).mean(dim=0)
    tiny = torch.finfo(p_bar.dtype).tiny
    return (p_bar * torch.log10(p_bar.clamp_min(tiny))).sum()


def data_free_kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """``KL(p_T || p_S)`` at temperature 1, summed over classes and averaged over the
    batch (the official ``kdloss``: ``kl_div(log_softmax(z_S), softmax(z_T), sum) / B``);
    this is ``soft_kl`` at T = 1. The teacher's logits are used as given: callers
    detach them (and the generated images)."""
    return soft_kl(student_logits, teacher_logits, 1.0)


__all__ = ["activation_loss", "data_free_kd_loss", "information_entropy_loss", "one_hot_loss"]
