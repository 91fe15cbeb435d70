import torch
import torch.nn.functional as F


def soft_kl(student_logits: torch.Tensor, target_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``T^2 * KL(softmax(target/T) || softmax(student/T))``, summed over classes and
    averaged over the batch. The target is used as given: callers detach it.
    The T^2 factor keeps gradient magnitudes independent of T (Hinton et al.)."""
    log_p_student = F.log_softmax(student_logits.float() / temperature, dim=1)
    log_p_target = F.log_softmax(target_logits.float() / temperature, dim=1)
    kl = F.kl_div(log_p_student, log_p_target, reduction="batchmean", log_target=True)
    return kl * (temperature ** 2)
