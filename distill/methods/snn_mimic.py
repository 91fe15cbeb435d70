"""SNN-MIMIC (Ba & Caruana, 2014, "Do deep nets really need to be deep?"): the
student regresses the teacher's logits with L2, ``mean over batch and classes
of (z_s - z_t)^2`` (the logits before the softmax, detached teacher). The paper
trains on the teacher's outputs alone, so CE is off by default."""
from dataclasses import dataclass

from distill.losses import l2_logits
from distill.methods.base import Method, Needs, weighted
from distill.methods.logit_terms import add_logit_terms
from distill.methods.registry import METHODS
from distill.typed_dict import field


@METHODS.register("snn_mimic")
class SNNMimic(Method):
    @dataclass
    class Params:
        mimic_weight: float = field(1.0, ge=0.0)
        ce_weight: float = field(0.0, ge=0.0)

    needs = Needs(teacher=True)

    def losses(self, batch, outputs, teacher_output):
        target = teacher_output["logits"]
        terms = {}
        for name in self.network_names:
            logits = outputs[name]["logits"]
            add_logit_terms(terms, name, logits, batch.labels, target, self.params.ce_weight, 0.0, 1.0)
            weighted(terms, f"mimic.{name}", self.params.mimic_weight, lambda: l2_logits(logits, target))
        return terms
