"""Loss primitives shared by methods; each states its reduction conventions."""
from distill.losses.js_divergence import js_divergence
from distill.losses.kl_divergence import soft_kl, upcast
from distill.losses.logit_distance import l1_logits, l2_logits
from distill.losses.topology_loss import NEIGHBOURHOODS, topology_loss

__all__ = ["NEIGHBOURHOODS", "js_divergence", "l1_logits", "l2_logits", "soft_kl", "topology_loss", "upcast"]
