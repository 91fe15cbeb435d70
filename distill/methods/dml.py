"""Deep mutual learning (Zhang et al., 2018): N peers trained together; each
peer's loss is CE plus the KL to every other (detached) peer, averaged over
peers. With a temperature T the KL term is ``T^2 * KL(p_j^T || p_k^T)``."""
from dataclasses import dataclass

import torch.nn.functional as F

from distill.losses import soft_kl, upcast
from distill.methods.base import Method, Needs, weighted
from distill.methods.registry import METHODS
from distill.typed_dict import field


@METHODS.register("dml")
class DeepMutualLearning(Method):
    @dataclass
    class Params:
        temperature: float = field(1.0, gt=0.0)
        ce_weight: float = field(1.0, ge=0.0)
        kl_weight: float = field(1.0, ge=0.0)

    needs = Needs(min_networks=2)

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        for name in self.network_names:
            logits = outputs[name]["logits"]
            peers = [outputs[other]["logits"].detach() for other in self.network_names if other != name]
            weighted(terms, f"ce.{name}", p.ce_weight, lambda: F.cross_entropy(upcast(logits), batch.labels))
            weighted(terms, f"kl.{name}", p.kl_weight,
                     lambda: sum(soft_kl(logits, peer, p.temperature) for peer in peers) / len(peers))
        return terms
