"""A discriminator that tells the frozen teacher's outputs ("real") from a
student's ("fake"): the shared core of the adversarial-compression family
(ANC, TSANC, KSANC, HKSANC). The teacher is always real. Non-saturating GAN
losses with BCE-with-logits:

    student:       BCE(D(fake), 1)
    discriminator: BCE(D(real), 1) + BCE(D(sg fake), 0) [+ BCE(D(sg extra_real), 1)]

``conditional`` concatenates the one-hot label to D's input (TSANC's
category-aware discriminator, the ``fc+label`` reading)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from distill.adversarial.discriminator import Discriminator
from distill.losses.kl_divergence import upcast


def bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


class TeacherAdversary(nn.Module):
    def __init__(self, in_features: int, structure: str, num_classes: int = 0, conditional: bool = False):
        super().__init__()
        self.conditional = conditional
        self.num_classes = num_classes
        self.disc = Discriminator(in_features + (num_classes if conditional else 0), structure)

    def _input(self, x: torch.Tensor, labels: Optional[torch.Tensor]) -> torch.Tensor:
        x = upcast(x)   # half precision -> float32; a float64 run stays float64
        if self.conditional:
            x = torch.cat([x, F.one_hot(labels, self.num_classes).to(x.dtype)], dim=1)
        return x

    def student_loss(self, fake: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The student tries to pass as the teacher."""
        return bce(self.disc(self._input(fake, labels)), real=True)

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor, labels: Optional[torch.Tensor] = None,
                           extra_real: Optional[torch.Tensor] = None, extra_weight: float = 1.0) -> torch.Tensor:
        loss = bce(self.disc(self._input(real.detach(), labels)), True) + bce(self.disc(self._input(fake.detach(), labels)), False)
        if extra_real is not None:
            loss = loss + extra_weight * bce(self.disc(self._input(extra_real.detach(), labels)), True)
        return loss
