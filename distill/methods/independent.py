"""Each network trained alone with cross-entropy: the baseline row of every table."""
from dataclasses import dataclass

import torch.nn.functional as F

from distill.losses import upcast
from distill.methods.base import Method, Needs, weighted
from distill.methods.registry import METHODS
from distill.typed_dict import field


@METHODS.register("independent")
class Independent(Method):
    @dataclass
    class Params:
        ce_weight: float = field(1.0, ge=0.0)

    needs = Needs(min_networks=1)

    def losses(self, batch, outputs, teacher_output):
        terms = {}
        for name in self.network_names:
            weighted(terms, f"ce.{name}", self.params.ce_weight, lambda: F.cross_entropy(upcast(outputs[name]["logits"]), batch.labels))
        return terms
