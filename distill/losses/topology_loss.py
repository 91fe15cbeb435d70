"""Topology consistency (TADML's L_T, a documented reconstruction, SPEC 3.1):
the batch's cosine-similarity graph of one network matched to its partner's
over a neighbourhood set N: ``mean over (i, j) in N of (S_k[i,j] - S_j[i,j])^2``."""
import torch
import torch.nn.functional as F

from distill.losses.kl_divergence import upcast
from distill.registry import Registry

NEIGHBOURHOODS: Registry = Registry("method.topology_neighbourhood")


def similarity(embedding: torch.Tensor) -> torch.Tensor:
    """Cosine similarities of the L2-normalised rows: S = E E^T (B x B)."""
    e = F.normalize(upcast(embedding), dim=1)
    return e @ e.t()


def _off_diagonal(batch: int, device) -> torch.Tensor:
    return ~torch.eye(batch, dtype=torch.bool, device=device)


@NEIGHBOURHOODS.register("all")
def all_pairs(target_sim: torch.Tensor, k: int) -> torch.Tensor:
    return _off_diagonal(target_sim.shape[0], target_sim.device)


@NEIGHBOURHOODS.register("random")
def random_partners(target_sim: torch.Tensor, k: int) -> torch.Tensor:
    """K random partners per anchor (never itself); uses the global, checkpointed torch RNG."""
    batch = target_sim.shape[0]
    k = min(k, batch - 1)
    scores = torch.rand(batch, batch, device=target_sim.device)
    scores.fill_diagonal_(-1.0)
    picked = scores.topk(k, dim=1).indices
    return torch.zeros(batch, batch, dtype=torch.bool, device=target_sim.device).scatter_(1, picked, True)


@NEIGHBOURHOODS.register("knn")
def nearest_neighbours(target_sim: torch.Tensor, k: int) -> torch.Tensor:
    """The K nearest neighbours of each anchor in the partner's (target) space."""
    batch = target_sim.shape[0]
    k = min(k, batch - 1)
    scores = target_sim.detach().clone()
    scores.fill_diagonal_(float("-inf"))
    picked = scores.topk(k, dim=1).indices
    return torch.zeros(batch, batch, dtype=torch.bool, device=target_sim.device).scatter_(1, picked, True)


def topology_loss(embedding: torch.Tensor, target_embedding: torch.Tensor, neighbourhood: str = "all", k: int = 16) -> torch.Tensor:
    """``target_embedding`` is used as given: callers detach it."""
    s_self = similarity(embedding)
    s_target = similarity(target_embedding)
    mask = NEIGHBOURHOODS.get(neighbourhood)(s_target, k)
    diff = (s_self - s_target).pow(2)
    return diff[mask].mean()
