"""Conditional adversarial compression (Xu, Hsu & Huang, 2018; "TSANC" in seed
000's Table 7), as recalled (the paper could not be re-read): a conditional
MLP discriminator on logits (``128fc-256fc-128fc``, the one-hot label
concatenated), the teacher's logits real. Student:
``adv_weight * BCE(D([z_s, y]), 1) + l1_weight * mean |z_s - z_t| + ce_weight * CE``
(pix2pix-style GAN + L1). Ours: the weights (1, 1, 1)."""
from dataclasses import dataclass

from distill.losses import l1_logits
from distill.methods.adversarial_compression import AdversaryParams, TeacherAdversarialMethod
from distill.methods.base import Needs, weighted
from distill.methods.logit_terms import add_logit_terms
from distill.methods.registry import METHODS
from distill.typed_dict import field


@METHODS.register("tsanc")
class TSANC(TeacherAdversarialMethod):
    @dataclass
    class Params(AdversaryParams):
        l1_weight: float = field(1.0, ge=0.0)
        ce_weight: float = field(1.0, ge=0.0)

    needs = Needs(teacher=True)
    conditional = True

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        for name in self.network_names:
            logits = outputs[name]["logits"]
            add_logit_terms(terms, name, logits, batch.labels, teacher_output["logits"], p.ce_weight, 0.0, 1.0)
            weighted(terms, f"l1.{name}", p.l1_weight, lambda: l1_logits(logits, teacher_output["logits"]))
            self.add_adversarial_term(terms, name, batch, outputs, teacher_output)
        return terms
