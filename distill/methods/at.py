"""Attention transfer (Zagoruyko & Komodakis, 2017), activation-based, p = 2.

Per paired stage: a(F) = L2-normalise(vec(mean_c F^p)); term
``at_weight * sum over stage pairs of mean over batch and positions of (a_s - a_t)^2``
(the official code's form, ``at``/``at_loss`` in the authors' ``utils.py``:
squared difference, no 1/2; beta = 1000). Tap: ``stage_outputs``, each group's
output as the next group receives it: the authors' ``cifar.py`` takes WRN group
outputs (residual sums, pre-activation nets) and their ``imagenet.py`` ResNet
blocks return ``relu(o + x)`` (post-activation nets); RepDistiller's
``feat[1:-1]`` with ``preact=False`` is the same map. The larger map is
average-pooled to the smaller when sizes differ (RepDistiller's rule). CE on;
KD off unless ``kd_weight``."""
from dataclasses import dataclass
from typing import List, Optional

from distill.losses.attention_transfer import attention_loss
from distill.methods.base import Method, Needs, weighted
from distill.methods.logit_terms import add_logit_terms
from distill.methods.registry import METHODS
from distill.methods.stage_pairs import check_stage_pairs, stage_pairs_by_network
from distill.typed_dict import field

AT_TAPS = ("logits", "stage_outputs")


@METHODS.register("at")
class AttentionTransfer(Method):
    @dataclass
    class Params:
        at_weight: float = field(1000.0, ge=0.0)
        p: float = field(2.0, gt=0.0)
        stages: Optional[List[int]] = None       # indices into the paired stages; None: all
        ce_weight: float = field(1.0, ge=0.0)
        kd_weight: float = field(0.0, ge=0.0)
        temperature: float = field(4.0, gt=0.0)

    needs = Needs(taps=AT_TAPS, teacher=True, teacher_taps=AT_TAPS)

    @classmethod
    def check_config(cls, config, shapes) -> None:
        super().check_config(config, shapes)
        check_stage_pairs(config, shapes, config.method.params.stages)

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        self.pairs = stage_pairs_by_network(ctx, params.stages)

    def teacher_taps(self) -> tuple:
        return self.needs.teacher_taps if self.wants_features() else ("logits",)

    def wants_features(self) -> bool:
        return self.params.at_weight > 0

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        for name in self.network_names:
            out = outputs[name]
            add_logit_terms(terms, name, out["logits"], batch.labels, teacher_output["logits"], p.ce_weight,
                            p.kd_weight, p.temperature)
            weighted(terms, f"at.{name}", p.at_weight, lambda: sum(
                attention_loss(out["stage_outputs"][s], teacher_output["stage_outputs"][t], p.p) for s, t in self.pairs[name]))
        return terms
