"""ANC, adversarial network compression (Belagiannis et al., 2018), as far as
it is known (a third-party reimplementation; details are ours where marked).

D looks at the pooled penultimate feature (``embedding``); the teacher's is
real. A student thinner than the teacher gets a linear adapter to the
teacher's width, trained with the student. Student:
``adv_weight * BCE(D(adapt(dropout(f_s))), 1) + logit_weight * mean (z_s - z_t)^2``
(labels unused by default: ``ce_weight`` 0). Discriminator:
``BCE(D(f_t), 1) + BCE(D(sg adapt(f_s)), 0) + reg_weight * BCE(D(sg adapt(dropout(f_s))), 1)``:
the paper's regulariser shows dropout-perturbed student samples to D as real,
so D cannot become trivially strong. Ours: dropout p = 0.5, the weights."""
from dataclasses import dataclass

import torch.nn.functional as F
from torch import nn

from distill.losses import l2_logits
from distill.methods.adversarial_compression import AdversaryParams, TeacherAdversarialMethod
from distill.methods.base import Needs, weighted
from distill.methods.logit_terms import add_logit_terms
from distill.methods.registry import METHODS
from distill.typed_dict import field

ANC_TAPS = ("logits", "embedding")


@METHODS.register("anc")
class ANC(TeacherAdversarialMethod):
    @dataclass
    class Params(AdversaryParams):
        logit_weight: float = field(1.0, ge=0.0)
        ce_weight: float = field(0.0, ge=0.0)
        dropout: float = field(0.5, ge=0.0, lt=1.0)
        reg_weight: float = field(1.0, ge=0.0)

    needs = Needs(taps=ANC_TAPS, teacher=True, teacher_taps=ANC_TAPS)
    term_weights = {"adv": "adv_weight", "logit": "logit_weight", "ce": "ce_weight"}

    def __init__(self, params, ctx):
        self._embedding_dims = ctx.embedding_dims
        super().__init__(params, ctx)
        self.adapters = nn.ModuleDict()
        if params.adv_weight > 0:
            width = ctx.embedding_dims["teacher"]
            for name in self.network_names:
                if ctx.embedding_dims[name] != width:
                    self.adapters[name] = self.train_with(name, nn.Linear(ctx.embedding_dims[name], width))

    def disc_input_size(self, ctx) -> int:
        return ctx.embedding_dims["teacher"]

    def wants_features(self) -> bool:
        return self.params.adv_weight > 0

    def teacher_taps(self) -> tuple:
        return ANC_TAPS if self.wants_features() else ("logits",)

    def _adapt(self, name, embedding):
        return self.adapters[name](embedding) if name in self.adapters else embedding

    def extra_real_weight(self) -> float:
        return self.params.reg_weight

    def adversary_inputs(self, name, outputs, teacher_output):
        embedding = outputs[name]["embedding"]
        dropped = self._adapt(name, F.dropout(embedding, self.params.dropout, training=True))
        extra = dropped if self.params.reg_weight > 0 else None
        return teacher_output["embedding"], self._adapt(name, embedding), extra

    def add_adversarial_term(self, terms, name, batch, outputs, teacher_output) -> None:
        dropped = lambda: self._adapt(name, F.dropout(outputs[name]["embedding"], self.params.dropout, training=True))  # noqa: E731
        weighted(terms, f"adv.{name}", self.params.adv_weight,
                 lambda: self.adversaries[name].student_loss(dropped(), batch.labels))

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        for name in self.network_names:
            logits = outputs[name]["logits"]
            add_logit_terms(terms, name, logits, batch.labels, teacher_output["logits"], p.ce_weight, 0.0, 1.0)
            weighted(terms, f"logit.{name}", p.logit_weight, lambda: l2_logits(logits, teacher_output["logits"]))
            self.add_adversarial_term(terms, name, batch, outputs, teacher_output)
        return terms
