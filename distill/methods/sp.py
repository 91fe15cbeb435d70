"""Similarity-preserving KD (Tung & Mori, 2019), as RepDistiller implements it:
G = Q Q^T with Q the stage map flattened to B x CHW, rows L2-normalised;
term ``sp_weight * ||G_s - G_t||_F^2 / B^2`` (gamma = 3000; RepDistiller's
``Similarity`` loss in ``distiller_zoo/SP.py``). Tap: ``stage_outputs``, the last
stage by default (RepDistiller's ``feat[-2]`` from ``is_feat``: the post-ReLU block
output on post-activation ResNets, the raw residual sum on WRN / ResNet-164)."""
import dataclasses
from dataclasses import dataclass
from typing import List

from distill.losses.similarity_preserving import similarity_preserving_loss
from distill.methods.base import Method, Needs, weighted
from distill.methods.logit_terms import add_logit_terms
from distill.methods.registry import METHODS
from distill.methods.stage_pairs import check_stage_pairs, stage_pairs_by_network
from distill.typed_dict import field

SP_TAPS = ("logits", "stage_outputs")


@METHODS.register("sp")
class SimilarityPreserving(Method):
    @dataclass
    class Params:
        sp_weight: float = field(3000.0, ge=0.0)
        stages: List[int] = dataclasses.field(default_factory=lambda: [-1])   # the last paired stage
        ce_weight: float = field(1.0, ge=0.0)
        kd_weight: float = field(0.0, ge=0.0)
        temperature: float = field(4.0, gt=0.0)

    needs = Needs(taps=SP_TAPS, teacher=True, teacher_taps=SP_TAPS)

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
        return self.params.sp_weight > 0

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        for name in self.network_names:
            out = outputs[name]
            add_logit_terms(terms, name, out["logits"], batch.labels, teacher_output["logits"], p.ce_weight,
                            p.kd_weight, p.temperature)
            weighted(terms, f"sp.{name}", p.sp_weight, lambda: sum(
                similarity_preserving_loss(out["stage_outputs"][s], teacher_output["stage_outputs"][t]) for s, t in self.pairs[name]))
        return terms
