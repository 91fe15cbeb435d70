import torch
import torch.nn.functional as F


def upcast(x: torch.Tensor) -> torch.Tensor:
    """Losses are computed in at least float32: half/bf16 (autocast) logits are
    upcast; float32 and float64 are kept as they are (``.float()`` would round
    float64 down)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def soft_kl(student_logits: torch.Tensor, target_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``T^2 * KL(softmax(target/T) || softmax(student/T))``, summed over classes and
    averaged over the batch. The target is used as given: callers detach it.
    The T^2 factor keeps gradient magnitudes independent of T (Hinton et al.)."""
    log_p_student = F.log_softmax(upcast(student_logits) / temperature, dim=1)
    log_p_target = F.log_softmax(upcast(target_logits) / temperature, dim=1)
    kl = F.kl_div(log_p_student, log_p_target, reduction="batchmean", log_target=True)
    return kl * (temperature ** 2)
