"""KSANC, knowledge-squeezed adversarial network compression (Shu et al.,
seed 001's lineage). A documented reconstruction (only the abstract could be
read): result-oriented adversarial learning on logits plus process-oriented
intermediate supervision "squeezed" by attention. Ours:

    student = adv_weight * BCE(D(z_s), 1)                       D: MLP 128fc-256fc-128fc on logits
            + at_weight * sum over stage pairs of mean (a(F_s) - a(F_t))^2   (the AT map, tap ``stage_outputs`` as AT)
            + ce_weight * CE

The attention module is the parameter-free AT map (the "task-driven" trained
attention head of the paper is not reconstructed). HKSANC (``hksanc``) adds
the hierarchical, multi-scale attention."""
from dataclasses import dataclass
from typing import List, Optional

from distill.losses.attention_transfer import attention_loss
from distill.methods.adversarial_compression import AdversaryParams, TeacherAdversarialMethod
from distill.methods.base import Needs, weighted
from distill.methods.logit_terms import add_logit_terms
from distill.methods.registry import METHODS
from distill.methods.stage_pairs import check_stage_pairs, stage_pairs_by_network
from distill.typed_dict import field

KSANC_TAPS = ("logits", "stage_outputs")


@METHODS.register("ksanc")
class KSANC(TeacherAdversarialMethod):
    @dataclass
    class Params(AdversaryParams):
        at_weight: float = field(1000.0, ge=0.0)
        p: float = field(2.0, gt=0.0)
        stages: Optional[List[int]] = None
        ce_weight: float = field(1.0, ge=0.0)

    needs = Needs(taps=KSANC_TAPS, teacher=True, teacher_taps=KSANC_TAPS)

    @classmethod
    def check_config(cls, config, shapes) -> None:
        super().check_config(config, shapes)
        check_stage_pairs(config, shapes, config.method.params.stages)

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        self.pairs = stage_pairs_by_network(ctx, params.stages)

    def wants_features(self) -> bool:
        return self.params.at_weight > 0

    def teacher_taps(self) -> tuple:
        return KSANC_TAPS if self.wants_features() else ("logits",)

    def squeezed_loss(self, student_map, teacher_map):
        return attention_loss(student_map, teacher_map, self.params.p)

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        for name in self.network_names:
            out = outputs[name]
            add_logit_terms(terms, name, out["logits"], batch.labels, teacher_output["logits"], p.ce_weight, 0.0, 1.0)
            weighted(terms, f"at.{name}", p.at_weight, lambda: sum(
                self.squeezed_loss(out["stage_outputs"][s], teacher_output["stage_outputs"][t]) for s, t in self.pairs[name]))
            self.add_adversarial_term(terms, name, batch, outputs, teacher_output)
        return terms
