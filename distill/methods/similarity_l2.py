"""Direct similarity transfer, DarkRank's simplest comparator: the student's
pairwise scores ``S = -alpha ||x_q - x_i||^beta`` on the L2-normalised
``embedding`` regress onto a frozen teacher's,
``ce_weight CE + l2_weight mean_{q != i} (S_s - S_t)^2``. Each network scores in
its own space (the dims may differ). alpha = beta = 3 as DarkRank's paper; the
weight 1 is our choice [inference]. With ``l2_weight`` 0 the teacher does not run."""
from dataclasses import dataclass

import torch.nn.functional as F

from distill.losses import upcast
from distill.losses.similarity_l2 import similarity_l2_loss
from distill.methods.base import Method, Needs, weighted
from distill.methods.registry import METHODS
from distill.typed_dict import field

TAPS = ("logits", "embedding")


@METHODS.register("similarity_l2")
class SimilarityL2(Method):
    @dataclass
    class Params:
        ce_weight: float = field(1.0, ge=0.0)
        l2_weight: float = field(1.0, ge=0.0)
        alpha: float = field(3.0, gt=0.0)
        beta: float = field(3.0, gt=0.0)

    needs = Needs(taps=TAPS, teacher=True, teacher_taps=("embedding",))

    def wants_features(self) -> bool:
        return self.params.l2_weight > 0

    def wants_teacher(self) -> bool:
        return super().wants_teacher() and self.params.l2_weight > 0

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        for name in self.network_names:
            out = outputs[name]
            weighted(terms, f"ce.{name}", p.ce_weight, lambda: F.cross_entropy(upcast(out["logits"]), batch.labels))
            weighted(terms, f"l2.{name}", p.l2_weight, lambda: similarity_l2_loss(
                out["embedding"], teacher_output["embedding"].detach(), p.alpha, p.beta))
        return terms
