"""Accuracy of every head of a multi-head network and of the heads' ensemble:
the exits of self-distillation (``acc.net0.exit1`` .. ``acc.net0.exitS``, the
deepest being the network's own ``acc.net0``) or ONE's branches
(``acc.net0.branch1`` ..). The ensemble (``acc.net0.ensemble``) is what the
method says it is: the mean of the exits' logits (BYOT's code) or ONE's gated sum.

``heads(name, outputs)`` returns (list of logits, ensemble logits) for one
network's outputs; the method that owns the heads provides it."""
from typing import Callable, Dict, List, Sequence, Tuple

import torch

from distill.evaluators.base import MAX, Evaluator

HeadsFn = Callable[[str, dict], Tuple[List[torch.Tensor], torch.Tensor]]


class MultiHeadAccuracy(Evaluator):
    wants_features = True

    def __init__(self, network_names: Sequence[str], head_count: Dict[str, int], heads: HeadsFn, kind: str = "exit"):
        self.names = list(network_names)
        self.head_count = dict(head_count)
        self.heads = heads
        self.kind = kind
        self.reset()

    @staticmethod
    def names_for(network: str, heads: int, kind: str) -> List[str]:
        return [f"acc.{network}.{kind}{i + 1}" for i in range(heads)] + [f"acc.{network}.ensemble"]

    def metric_names(self, name: str) -> List[str]:
        return self.names_for(name, self.head_count[name], self.kind)

    def directions(self) -> Dict[str, str]:
        return {metric: MAX for name in self.names for metric in self.metric_names(name)}

    def reset(self) -> None:
        self.correct: Dict[str, torch.Tensor] = {}   # per network: (heads + 1,) counts on the device
        self.count = 0

    def update(self, outputs, labels, extras=None) -> None:
        for name in self.names:
            logits, ensemble = self.heads(name, outputs[name])
            predictions = torch.stack([z.float().argmax(1) for z in logits] + [ensemble.float().argmax(1)])
            correct = (predictions == labels.unsqueeze(0)).sum(1)
            self.correct[name] = self.correct[name] + correct if name in self.correct else correct
        self.count += len(labels)

    def result(self) -> Dict[str, float]:
        n = max(self.count, 1)
        out = {}
        for name in self.names:
            if name not in self.correct:   # nothing evaluated since reset
                continue
            counts = self.correct[name].tolist()   # one host sync per network and evaluation
            out.update({metric: 100.0 * c / n for metric, c in zip(self.metric_names(name), counts)})
        return out
