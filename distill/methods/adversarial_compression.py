"""What the adversarial-compression family (ANC, TSANC, KSANC, HKSANC) shares:
one discriminator per student, telling the frozen teacher's outputs (real)
from the student's (fake), with its own Adam, updated after every network
step (``after_step``). A subclass says what D sees (``adversary_inputs``) and
adds its own student terms; the adversarial student term is ``adv.<net>``."""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from distill.adversarial.discriminator import parse_structure
from distill.adversarial.teacher_adversary import TeacherAdversary
from distill.methods.base import Method, weighted
from distill.typed_dict import field


@dataclass
class AdversaryParams:
    adv_weight: float = field(1.0, ge=0.0)
    disc_structure: str = "128fc-256fc-128fc"
    disc_lr: float = field(1e-4, gt=0.0)
    disc_beta1: float = field(0.5, ge=0.0, le=1.0)
    disc_beta2: float = field(0.999, ge=0.0, le=1.0)
    disc_steps: int = field(1, ge=0)

    def validate(self, path: str) -> None:
        parse_structure(self.disc_structure, f"{path}.disc_structure")


class TeacherAdversarialMethod(Method):
    built_from = ("disc_beta1", "disc_beta2")   # Adam's betas, set when the adversary's optimizer is made
    conditional = False     # D also sees the one-hot label

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        self.adversaries = nn.ModuleDict()
        self.disc_optimizer = None
        if params.adv_weight > 0:
            size = self.disc_input_size(ctx)
            for name in self.network_names:
                self.adversaries[name] = TeacherAdversary(size, params.disc_structure, ctx.num_classes, self.conditional)
            self.disc_optimizer = self.own_optimizer(
                "adversaries", self.adversaries,
                lambda ps: torch.optim.Adam(ps, lr=params.disc_lr, betas=(params.disc_beta1, params.disc_beta2)),
                lr_field="disc_lr")

    def extra_real_weight(self) -> float:
        """The weight of the discriminator's third term (ANC's regulariser: ``reg_weight``)."""
        return 1.0

    def disc_input_size(self, ctx) -> int:
        return ctx.num_classes          # logits; ANC overrides (pooled features)

    def adversary_inputs(self, name: str, outputs: Dict[str, dict], teacher_output: dict
                         ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """(real, fake, extra_real) for student ``name``: the teacher's view, the student's,
        and optional student samples shown to D as real (ANC's regulariser)."""
        return teacher_output["logits"], outputs[name]["logits"], None

    def add_adversarial_term(self, terms, name, batch, outputs, teacher_output) -> None:
        if self.disc_optimizer is None:
            return
        _, fake, _ = self.adversary_inputs(name, outputs, teacher_output)
        weighted(terms, f"adv.{name}", self.params.adv_weight,
                 lambda: self.adversaries[name].student_loss(fake, batch.labels))

    def after_step(self, batch, outputs, teacher_output):
        if self.disc_optimizer is None or self.params.disc_steps == 0:
            return {}
        terms = {}
        for _ in range(self.params.disc_steps):
            terms = {}
            for name in self.network_names:
                real, fake, extra = self.adversary_inputs(name, outputs, teacher_output)
                terms[f"disc.{name}"] = self.adversaries[name].discriminator_loss(real, fake, batch.labels, extra,
                                                                                  self.extra_real_weight())
            self.disc_optimizer.zero_grad(set_to_none=True)
            sum(terms.values()).backward()
            self.disc_optimizer.step()
        return terms
