"""Class-balanced batches: each batch holds K classes with B/K images each
(TADML's sampling K, read as classes per mini-batch: SPEC 3.1).

Per epoch the images are shuffled within their class; each batch then takes
the next B/K images of the K classes with the most images left (random tie
break), so classes are drawn evenly and the epoch covers the training set.
Work per batch is a few tensor ops on C class counters; there is no per-image
Python, so it runs on the device-resident data path."""
from typing import Iterator

import torch

from distill.errors import ConfigError


def check_classes_per_batch(k: int, batch_size: int, num_classes: int) -> None:
    if k > num_classes:
        raise ConfigError("data.classes_per_batch", f"{k} is more than the data set's {num_classes} classes; allowed: 1..{num_classes}")
    if k > batch_size:
        raise ConfigError("data.classes_per_batch", f"{k} is more than data.batch_size {batch_size}; allowed: 1..{batch_size}")


def class_balanced_batches(labels: torch.Tensor, batch_size: int, classes_per_batch: int, num_classes: int,
                           generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Yields index tensors (on ``labels``' device) of K x (B // K) images, K distinct classes each."""
    device = labels.device
    labels_cpu = labels.cpu()
    n = len(labels_cpu)
    per_class = batch_size // classes_per_batch
    # shuffle, then a stable sort by label: indices grouped by class, random order inside each class
    shuffled = torch.randperm(n, generator=generator)
    by_class = shuffled[torch.sort(labels_cpu[shuffled], stable=True).indices]
    counts = torch.bincount(labels_cpu, minlength=num_classes)
    starts = torch.cumsum(counts, 0) - counts
    taken = torch.zeros(num_classes, dtype=torch.long)
    offsets = torch.arange(per_class)
    present = counts > 0
    if classes_per_batch > int(present.sum()):
        # a class with no images would be "chosen" and divide by its zero count below
        raise ConfigError("data.classes_per_batch", f"{classes_per_batch} is more than the {int(present.sum())} classes "
                          f"present in the training split; allowed: 1..{int(present.sum())}")
    for _ in range(n // batch_size):
        remaining = (counts - taken).float()
        key = torch.where(present, remaining + torch.rand(num_classes, generator=generator), torch.full_like(remaining, -1.0))
        chosen = key.topk(classes_per_batch).indices
        # a class that runs out wraps around to its first images (reused within the epoch)
        positions = starts[chosen, None] + (taken[chosen, None] + offsets) % counts[chosen, None]
        taken[chosen] += per_class
        yield by_class[positions.flatten()].to(device)
