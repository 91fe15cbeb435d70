import torch
import torch.nn.functional as F

from distill.losses.kl_divergence import upcast

EPS = 1e-8


def js_divergence(logits: torch.Tensor, target_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``JS(p, q) = 0.5 KL(p || m) + 0.5 KL(q || m)``, m = (p + q) / 2, with p = softmax(logits/T),
    q = softmax(target/T); eps inside the logs; summed over classes, averaged over the batch.
    No T^2 factor (SPEC 3.1 states none). The target is used as given: callers detach it."""
    p = F.softmax(upcast(logits) / temperature, dim=1)
    q = F.softmax(upcast(target_logits) / temperature, dim=1)
    m = 0.5 * (p + q)
    log_m = torch.log(m + EPS)
    kl_pm = (p * (torch.log(p + EPS) - log_m)).sum(dim=1)
    kl_qm = (q * (torch.log(q + EPS) - log_m)).sum(dim=1)
    return (0.5 * kl_pm + 0.5 * kl_qm).mean()
