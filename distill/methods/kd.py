"""Hinton et al. (2015) knowledge distillation from a frozen teacher:
``(1 - alpha) * CE + alpha * T^2 * KL(p_t^T || p_s^T)``; alpha weights the KD term."""
from dataclasses import dataclass

import torch.nn.functional as F

from distill.losses import soft_kl, upcast
from distill.methods.base import DataNeeds, Method, Needs, weighted
from distill.methods.registry import METHODS
from distill.typed_dict import field


@METHODS.register("kd")
class KnowledgeDistillation(Method):
    @dataclass
    class Params:
        temperature: float = field(4.0, gt=0.0)
        alpha: float = field(0.9, ge=0.0, le=1.0)

    needs = Needs(teacher=True, min_networks=1)
    term_weights = {"kd": "alpha"}

    @classmethod
    def data_needs(cls, params) -> DataNeeds:
        return DataNeeds(labels=params.alpha < 1.0)   # alpha 1: the teacher alone (a transfer set is allowed)

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        target = teacher_output["logits"].detach()
        terms = {}
        for name in self.network_names:
            logits = outputs[name]["logits"]
            weighted(terms, f"ce.{name}", 1.0 - p.alpha, lambda: F.cross_entropy(upcast(logits), batch.labels))
            weighted(terms, f"kd.{name}", p.alpha, lambda: soft_kl(logits, target, p.temperature))
        return terms
