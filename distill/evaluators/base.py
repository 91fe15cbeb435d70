"""Evaluators: named metrics with a direction, computed on the validation
split every epoch and on the test split at the end.

The trainer runs every network once per evaluation batch and feeds the
outputs to each evaluator (``reset``, ``update`` per batch, ``result``), so a
new metric (per-exit accuracy, an exit ensemble, retrieval mAP) plugs in
without touching the trainer. Metric names carry no split: the trainer prefixes
them (``acc.net0`` is reported as ``val_acc.net0`` and ``test_acc.net0``), and
sweeps and reports select and display them by that name."""
from typing import Dict

import torch

MAX, MIN = "max", "min"


class Evaluator:
    # whether ``update`` needs the feature taps (``features``) or only logits
    wants_features: bool = False
    # whether ``update`` takes ``flipped=``, the outputs on horizontally flipped images, which the
    # trainer passes when the config asks for flip averaging (``data.eval_flip``)
    wants_flipped: bool = False
    # what the metric names start with (``acc`` of ``acc.net0``). A task's default evaluator
    # claims its kinds, so validation tells which split a method's metric needs: an ``acc.*``
    # metric needs class labels and is refused on a retrieval data set
    kinds: tuple = ()

    def directions(self) -> Dict[str, str]:
        """metric name -> "max" or "min"."""
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, outputs: Dict[str, dict], labels: torch.Tensor, extras: Dict[str, torch.Tensor]) -> None:
        """``outputs``: network name -> its outputs (``logits``, and the taps when ``wants_features``);
        ``extras``: the split's per-image metadata for these images (``ImageSet.extras``: cameras,
        query/gallery roles, ...), so retrieval metrics can be computed over a whole split.
        An evaluator with ``wants_flipped`` also takes ``flipped`` (the same for the flipped images,
        or None when flip averaging is off); the others are never passed it."""
        raise NotImplementedError

    def result(self) -> Dict[str, float]:
        raise NotImplementedError
