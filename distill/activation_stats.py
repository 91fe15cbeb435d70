"""A teacher's activation statistics: the meta-data that Lopes et al.'s data-free
distillation (2017) asks a model's publisher to ship beside its weights.

The teacher store records them when it trains a teacher: for every class ``c`` of
the teacher's training split (its own images, unaugmented, the network in eval mode),
the per-unit mean, standard deviation and the covariance matrix of the teacher's top
layer (its logits, before any temperature), accumulated in float64, as the reference's
``compute_stats`` does for its ``top_layer`` objective. A temperature divides them at
use (mean / T, covariance / T^2): the reference computed them on logits / T.

They live beside the teacher's checkpoint as ``activation_stats.pt`` (plain tensors,
read with ``weights_only``); a teacher trained before the store recorded them has none."""
import os
from typing import Dict, Optional

import torch

from distill.atomic_write import atomic_write

STATS_FILE = "activation_stats.pt"
LAYER = "logits"


def stats_path(teacher_checkpoint: str, explicit: Optional[str] = None) -> str:
    """Where a teacher's statistics are: ``explicit`` when given, else beside its checkpoint."""
    return explicit or os.path.join(os.path.dirname(teacher_checkpoint), STATS_FILE)


@torch.no_grad()
def compute_stats(model: torch.nn.Module, images_u8: torch.Tensor, labels: torch.Tensor, normalize,
                  num_classes: int, batch_size: int = 512) -> Dict[str, torch.Tensor]:
    """Per-class count, mean, std (population) and covariance (population, as the
    reference's running estimate) of ``model``'s logits over ``images_u8``."""
    device = next(model.parameters()).device
    batches = ((normalize(images_u8[start:start + batch_size].to(device)), labels[start:start + batch_size])
               for start in range(0, len(labels), batch_size))
    return stats_over(model, batches, num_classes)


def stats_over(model: torch.nn.Module, batches, num_classes: int) -> Dict[str, torch.Tensor]:
    """``compute_stats`` over (normalised images, labels) batches (a split read from files)."""
    was_training = model.training
    model.eval()
    sums = sq = cross = counts = None
    for images, batch_labels in batches:
        logits = model(images).double().cpu()
        onehot = torch.nn.functional.one_hot(batch_labels.cpu(), num_classes).double()
        if sums is None:
            k = logits.shape[1]
            sums, sq = torch.zeros(num_classes, k, dtype=torch.float64), torch.zeros(num_classes, k, dtype=torch.float64)
            cross = torch.zeros(num_classes, k, k, dtype=torch.float64)
            counts = torch.zeros(num_classes, dtype=torch.float64)
        counts += onehot.sum(0)
        sums += onehot.T @ logits
        sq += onehot.T @ logits.square()
        cross += torch.einsum("nc,ni,nj->cij", onehot, logits, logits)
    model.train(was_training)
    n = counts.clamp_min(1.0)
    mean = sums / n[:, None]
    var = (sq / n[:, None] - mean.square()).clamp_min(0.0)
    cov = cross / n[:, None, None] - mean[:, :, None] * mean[:, None, :]
    return {"layer": LAYER, "count": counts, "mean": mean, "std": var.sqrt(), "cov": cov}


def save_stats(stats: Dict[str, torch.Tensor], path: str) -> None:
    atomic_write(path, lambda fh: torch.save(stats, fh), mode="wb")


def load_stats(path: str) -> Dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)
