"""Loss primitives shared by methods; each states its reduction conventions."""
from distill.losses.kl_divergence import soft_kl, upcast

__all__ = ["soft_kl", "upcast"]
