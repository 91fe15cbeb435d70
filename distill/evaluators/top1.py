"""Top-1 accuracy (%) and mean cross-entropy of each network's logits."""
from typing import Dict, List

import torch
import torch.nn.functional as F

from distill.evaluators.base import MAX, MIN, Evaluator


class TopOneAccuracy(Evaluator):
    kinds = ("acc", "loss")

    def __init__(self, network_names: List[str]):
        self.names = list(network_names)
        self.reset()

    @staticmethod
    def names_for(network_names: List[str]) -> List[str]:
        return [f"{kind}.{name}" for name in network_names for kind in ("acc", "loss")]

    def directions(self) -> Dict[str, str]:
        out = {}
        for name in self.names:
            out[f"acc.{name}"] = MAX
            out[f"loss.{name}"] = MIN
        return out

    def reset(self) -> None:
        # device tensors: one host sync per evaluation, not per batch
        self.correct: Dict[str, torch.Tensor] = {}
        self.loss: Dict[str, torch.Tensor] = {}
        self.count = 0

    def update(self, outputs, labels, extras=None) -> None:
        for name in self.names:
            logits = outputs[name]["logits"].float()
            loss = F.cross_entropy(logits, labels, reduction="sum")
            correct = (logits.argmax(1) == labels).sum()
            self.loss[name] = self.loss[name] + loss if name in self.loss else loss
            self.correct[name] = self.correct[name] + correct if name in self.correct else correct
        self.count += len(labels)

    def result(self) -> Dict[str, float]:
        n = max(self.count, 1)
        out = {}
        for name in self.names:
            out[f"acc.{name}"] = 100.0 * float(self.correct[name]) / n
            out[f"loss.{name}"] = float(self.loss[name]) / n
        return out
