"""Be Your Own Teacher (Zhang et al., 2019): exits after every stage; the
deepest exit (the network's head) teaches the shallow ones. For shallow exit i:
``(1 - alpha) CE(z_i, y) + alpha T^2 KL(sg p_deep^T || p_i^T)
+ hint_weight * mean((f_i - sg f_deep)^2)``, f the pooled features; the deepest
exit is trained with CE alone. alpha = 0.3, T = 3 (the authors' journal code),
hint_weight = 0.03. Terms: ``ce`` (deepest), ``exit_ce``, ``kd``, ``hint``."""
from dataclasses import dataclass

import torch.nn.functional as F

from distill.losses import soft_kl, upcast
from distill.losses.feature_regression import hint_loss
from distill.methods.base import Needs, weighted
from distill.methods.exit_heads import EXIT_TAPS, ExitMethod
from distill.methods.registry import METHODS
from distill.typed_dict import field


@METHODS.register("byot")
class BeYourOwnTeacher(ExitMethod):
    @dataclass
    class Params:
        alpha: float = field(0.3, ge=0.0, le=1.0)       # weighs the KD term; (1 - alpha) the exits' CE
        temperature: float = field(3.0, gt=0.0)
        hint_weight: float = field(0.03, ge=0.0)
        ce_weight: float = field(1.0, ge=0.0)           # the deepest exit's CE

    needs = Needs(taps=EXIT_TAPS)
    term_weights = {"ce": "ce_weight", "kd": "alpha", "hint": "hint_weight"}

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        for name in self.network_names:
            features, logits = self.exit_outputs(name, outputs[name])
            shallow, deep = logits[:-1], logits[-1]
            deep_target, deep_feature = deep.detach(), features[-1].detach()
            weighted(terms, f"ce.{name}", p.ce_weight, lambda: F.cross_entropy(upcast(deep), batch.labels))
            weighted(terms, f"exit_ce.{name}", 1.0 - p.alpha,
                     lambda: sum(F.cross_entropy(upcast(z), batch.labels) for z in shallow))
            weighted(terms, f"kd.{name}", p.alpha, lambda: sum(soft_kl(z, deep_target, p.temperature) for z in shallow))
            weighted(terms, f"hint.{name}", p.hint_weight,
                     lambda: sum(hint_loss(f, deep_feature) for f in features[:-1]))
        return terms
