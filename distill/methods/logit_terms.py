"""The logit terms most offline-teacher methods carry beside their own:
``ce_weight * CE(z_s, y) + kd_weight * T^2 KL(p_t^T || p_s^T)``."""
import torch.nn.functional as F

from distill.losses import soft_kl, upcast
from distill.methods.base import weighted


def add_logit_terms(terms, name, logits, labels, teacher_logits, ce_weight, kd_weight, temperature) -> None:
    weighted(terms, f"ce.{name}", ce_weight, lambda: F.cross_entropy(upcast(logits), labels))
    weighted(terms, f"kd.{name}", kd_weight, lambda: soft_kl(logits, teacher_logits, temperature))
