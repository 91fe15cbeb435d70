"""Auxiliary classifiers, part of the engine contract rather than of any method.

A network with auxiliary heads (``inception_v1_aux``) names them in ``aux_head_names``
and, after every forward in training mode, leaves their logits in ``aux_logits`` (a
list; empty in eval mode). The default ``Method.train_step`` takes them right after the
networks' forward on ``batch.images`` and adds, per network,
``aux.<net>`` = ``aux_weight`` x the mean cross-entropy of its auxiliary logits against
``batch.labels``. ``networks[i].aux_weight`` defaults to 0.4 for a network with
auxiliary heads (DML's InceptionV1 auxiliary loss weight) and is ignored for one
without; 0 removes the term. (torchvision's ImageNet recipe sums its two heads' losses
at 0.4 each: aux_weight 0.8 here.) A method with its own ``train_step`` calls
``aux_terms`` after its forward if its networks may have auxiliary heads."""
from typing import Dict, List, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

from distill.losses.kl_divergence import upcast

DEFAULT_AUX_WEIGHT = 0.4


def has_aux_heads(model: nn.Module) -> bool:
    return bool(getattr(model, "aux_head_names", ()))


def aux_weight_for(model: nn.Module, configured: Optional[float]) -> float:
    """The auxiliary loss weight a network trains with: 0 without auxiliary heads."""
    if not has_aux_heads(model):
        return 0.0
    return DEFAULT_AUX_WEIGHT if configured is None else float(configured)


def take_aux_logits(model: nn.Module) -> List[torch.Tensor]:
    """The auxiliary logits of ``model``'s last training forward, cleared on the model
    (so no graph outlives the step)."""
    logits = list(getattr(model, "aux_logits", None) or ())
    if logits:
        model.aux_logits = []
    return logits


def aux_terms(networks: Mapping[str, nn.Module], labels: Optional[torch.Tensor],
              weights: Mapping[str, float]) -> Dict[str, torch.Tensor]:
    """``aux.<net>`` for every network with a non-zero weight and auxiliary logits; call it
    right after the forward whose rows ``labels`` label."""
    terms: Dict[str, torch.Tensor] = {}
    for name, net in networks.items():
        logits = take_aux_logits(net)
        weight = weights.get(name, 0.0)
        if weight == 0.0 or not logits or labels is None:
            continue
        terms[f"aux.{name}"] = weight * sum(F.cross_entropy(upcast(z), labels) for z in logits) / len(logits)
    return terms
