"""Batch samplers, by name: what a training batch is made of. The trainer picks
one from the method's ``DataNeeds`` and the data config (``sampler_for``), so
a new kind of batch is a new entry here, not a branch in the batch code.

A sampler yields ``Draw``s: the indices of a batch into the training split and,
for paired methods, a partner index per sample. All randomness comes from the
run's CPU generator, whose state is checkpointed."""
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

import torch

from distill.data.class_balanced import class_balanced_batches
from distill.registry import Registry

BATCH_SAMPLERS: Registry = Registry("batch sampler")


@dataclass
class Draw:
    index: Optional[torch.Tensor]            # None: a batch without real data
    partner: Optional[torch.Tensor] = None


@dataclass
class SamplerArgs:
    labels: Optional[torch.Tensor]           # on the training device; None without real data
    batch_size: int
    num_classes: int
    generator: torch.Generator
    classes_per_batch: Optional[int] = None
    iterations: Optional[int] = None         # steps per epoch when there is no data to count


def batches_per_epoch(args: SamplerArgs) -> int:
    if args.labels is None:
        return int(args.iterations or 0)
    return len(args.labels) // args.batch_size


@BATCH_SAMPLERS.register("shuffle")
def shuffled(args: SamplerArgs) -> Iterator[Draw]:
    order = torch.randperm(len(args.labels), generator=args.generator).to(args.labels.device)
    for i in range(batches_per_epoch(args)):
        yield Draw(order[i * args.batch_size:(i + 1) * args.batch_size])


@BATCH_SAMPLERS.register("class_balanced")
def class_balanced(args: SamplerArgs) -> Iterator[Draw]:
    for index in class_balanced_batches(args.labels, args.batch_size, args.classes_per_batch,
                                        args.num_classes, args.generator):
        yield Draw(index)


def same_class_partners(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For every image, a random other image of its class (itself only when it is alone).
    Vectorised: images grouped by class in random order; each picks a random non-zero
    offset within its class's block."""
    labels_cpu = labels.cpu()
    n = len(labels_cpu)
    shuffled = torch.randperm(n, generator=generator)
    grouped = shuffled[torch.sort(labels_cpu[shuffled], stable=True).indices]
    counts = torch.bincount(labels_cpu)
    starts = torch.cumsum(counts, 0) - counts
    cls = labels_cpu[grouped]
    position = torch.arange(n) - starts[cls]
    size = counts[cls]
    # offset in 1..size-1 (0 for a class of one image, which is its own partner)
    offset = 1 + (torch.rand(n, generator=generator) * (size - 1)).long()
    partner_position = (position + offset) % size
    partner = torch.empty(n, dtype=torch.long)
    partner[grouped] = grouped[starts[cls] + partner_position]
    return partner.to(labels.device)


@BATCH_SAMPLERS.register("same_class")
def same_class(args: SamplerArgs) -> Iterator[Draw]:
    """Shuffled batches, each sample with a same-class partner (CS-KD)."""
    partners = same_class_partners(args.labels, args.generator)
    for draw in shuffled(args):
        yield Draw(draw.index, partners[draw.index])


@BATCH_SAMPLERS.register("none")
def no_data(args: SamplerArgs) -> Iterator[Draw]:
    """Data-free methods: ``iterations`` empty batches; the training split is never read."""
    for _ in range(batches_per_epoch(args)):
        yield Draw(None)


def sampler_for(data_needs, data_cfg) -> Tuple[str, str]:
    """(sampler name, the config field that chose it) from the method's data needs and the data config."""
    if not data_needs.real_data:
        return "none", "method"
    if data_needs.pairs:
        return data_needs.pairs, "method"
    if data_cfg.classes_per_batch:
        return "class_balanced", "data.classes_per_batch"
    return "shuffle", "data"
