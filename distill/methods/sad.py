"""Self-Attention Distillation (Hou et al., 2019), as a classification
comparator of seed 002: each stage's attention (channel energy, resized to the
stage's size, spatial softmax) mimics the next deeper stage's (detached), term
``sad_weight * sum_m ||Psi(A_m) - sg Psi(A_{m+1})||^2``, switched on only after
``start_fraction`` of training (the paper adds it to a partly trained network),
beside the network's CE. No exits. Tap: ``stage_outputs`` (the map each stage hands
on, the tap of every stage-reading method here; recalled, not checked against the
authors' code)."""
from dataclasses import dataclass

import torch.nn.functional as F

from distill.losses import upcast
from distill.losses.spatial_attention import sad_loss
from distill.methods.base import Method, Needs, weighted
from distill.methods.exit_heads import check_staged
from distill.methods.registry import METHODS
from distill.typed_dict import field


@METHODS.register("sad")
class SelfAttentionDistillation(Method):
    @dataclass
    class Params:
        sad_weight: float = field(0.1, ge=0.0)
        start_fraction: float = field(0.5, ge=0.0, le=1.0)   # of train.epochs, before SAD switches on
        ce_weight: float = field(1.0, ge=0.0)

    needs = Needs(taps=("logits", "stage_outputs"))

    @classmethod
    def check_config(cls, config, shapes) -> None:
        super().check_config(config, shapes)
        check_staged(config, shapes, "method sad (each stage mimics the next)")

    def active(self) -> bool:
        return self.params.sad_weight > 0 and self.epoch >= self.params.start_fraction * self.ctx.epochs

    def wants_features(self) -> bool:
        return self.active()

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        for name in self.network_names:
            out = outputs[name]
            weighted(terms, f"ce.{name}", p.ce_weight, lambda: F.cross_entropy(upcast(out["logits"]), batch.labels))
            weighted(terms, f"sad.{name}", p.sad_weight if self.active() else 0.0, lambda: sum(
                sad_loss(shallow, deeper.detach()) for shallow, deeper in zip(out["stage_outputs"][:-1], out["stage_outputs"][1:])))
        return terms
