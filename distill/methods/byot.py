"""Be Your Own Teacher (Zhang et al., 2019), after the authors' final code (the
training loop of their ``pytorch-self-distillation-final`` repository,
``train.py``): exits after every stage; the deepest exit (the network's head)
teaches the shallow ones. For shallow exit i:

``(1 - alpha) CE(z_i, y) + alpha KD_i + hint_weight H_i``

- ``KD_i``: the code's soft cross-entropy ``-sum softmax(sg z_deep / T) log_softmax(z_i / T)``
  with **no T^2 factor** (``kd_scaling: none``, the default). We compute it as the
  KL divergence, which has the same gradient and reaches 0 at a perfect match (the
  two differ by the detached target's entropy). ``kd_scaling: t_squared`` multiplies
  by T^2, as Hinton's KD and some reimplementations do.
- ``H_i`` (``hint_form``):
  - ``adapted_l2`` (default, the final code): ``||Linear_i(f_i) - sg f_deep||_2``, the
    unsquared L2 norm over the whole batch of the difference (``torch.dist``), through a
    linear adapter per exit trained with the network; as in the code, the shallow exit
    next to the deepest gets no hint (the code skips its list index 1, which is that
    exit, although its comment says "the shallowest");
  - ``mse`` (the paper's equation, the conference code's ``|f_i - f_deep|^2``):
    ``mean((f_i - sg f_deep)^2)`` on every shallow exit, no adapter.
  f is an exit's pooled feature (the deepest: the network's ``embedding``).

The deepest exit is trained with CE alone. alpha = 0.3, T = 3 and hint_weight = 0.03
are the final code's defaults (``loss_coefficient``, ``temperature``,
``feature_loss_coefficient``). Terms: ``ce`` (deepest), ``exit_ce``, ``kd``, ``hint``.
The exits read ``stage_outputs`` (``distill/models/exits.py``)."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from distill.losses import soft_kl, upcast
from distill.losses.feature_regression import hint_loss
from distill.methods.base import Needs, weighted
from distill.methods.exit_heads import EXIT_TAPS, ExitMethod
from distill.methods.registry import METHODS
from distill.typed_dict import field

HINT_FORMS = ("adapted_l2", "mse")
KD_SCALINGS = ("none", "t_squared")


def hinted_exits(shallow_count: int, form: str) -> list:
    """Indices (shallowest first) of the shallow exits that get a hint."""
    if form == "mse":
        return list(range(shallow_count))
    return list(range(shallow_count - 1))   # the final code skips the exit next to the deepest


@METHODS.register("byot")
class BeYourOwnTeacher(ExitMethod):
    @dataclass
    class Params:
        alpha: float = field(0.3, ge=0.0, le=1.0)       # weighs the KD term; (1 - alpha) the exits' CE
        temperature: float = field(3.0, gt=0.0)
        hint_weight: float = field(0.03, ge=0.0)
        ce_weight: float = field(1.0, ge=0.0)           # the deepest exit's CE
        hint_form: str = field("adapted_l2", choices=HINT_FORMS)
        kd_scaling: str = field("none", choices=KD_SCALINGS)

    needs = Needs(taps=EXIT_TAPS)
    term_weights = {"ce": "ce_weight", "kd": "alpha", "hint": "hint_weight"}

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        self.hint_adapters = {}
        if params.hint_form == "adapted_l2" and params.hint_weight > 0:
            width = {name: ctx.embedding_dims[name] for name in self.network_names}
            for name in self.network_names:
                self.hint_adapters[name] = self.train_with(name, nn.ModuleList(
                    nn.Linear(width[name], width[name])
                    for _ in hinted_exits(len(self.exits[name]), params.hint_form)))

    def kd_term(self, shallow, deep_target) -> torch.Tensor:
        t = self.params.temperature
        scale = 1.0 if self.params.kd_scaling == "t_squared" else 1.0 / (t * t)
        return scale * sum(soft_kl(z, deep_target, t) for z in shallow)

    def hint_term(self, name: str, shallow_features, deep_feature) -> torch.Tensor:
        form = self.params.hint_form
        chosen = hinted_exits(len(shallow_features), form)
        if form == "mse":
            return sum(hint_loss(shallow_features[i], deep_feature) for i in chosen)
        adapters = self.hint_adapters[name]
        return sum(torch.linalg.vector_norm(upcast(adapters[k](shallow_features[i])) - upcast(deep_feature))
                   for k, i in enumerate(chosen))

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
            weighted(terms, f"kd.{name}", p.alpha, lambda: self.kd_term(shallow, deep_target))
            if hinted_exits(len(shallow), p.hint_form):
                weighted(terms, f"hint.{name}", p.hint_weight,
                         lambda: self.hint_term(name, features[:-1], deep_feature))
        return terms
