"""On-the-fly Native Ensemble (Lan, Zhu & Gong, 2018; the official code's
form): the network's low stages are shared; its last stage and head are one of
``branches`` (m) branches, the others freshly built copies of them (so each
starts from its own initialisation). A gate ``softmax(ReLU(BN(FC(GAP(x)))))``
on the shared map x weighs the branches' logits into the ensemble z_e, the
teacher. Loss: ``ce``: sum_i CE(z_i); ``ensemble_ce``: CE(z_e);
``kd``: ramp(epoch) * kd_weight * T^2 sum_i KL(sg p_e^T || p_i^T), T = 3, the
ramp exp(-5 (1 - min(epoch / rampup_epochs, 1))^2) over the first 80 epochs.
The network's own head is branch 1, so ``acc.net0`` is one branch; the
evaluator also reports every branch and the gated ensemble."""
import math
from dataclasses import dataclass
from typing import List

import torch
import torch.nn.functional as F
from torch import nn

from distill.evaluators.multi_head import MultiHeadAccuracy
from distill.losses import soft_kl, upcast
from distill.methods.base import Method, Needs, weighted
from distill.methods.exit_heads import check_staged
from distill.methods.registry import METHODS
from distill.models import build_model
from distill.models.features import ModelTail
from distill.typed_dict import field


class Gate(nn.Module):
    def __init__(self, channels: int, branches: int):
        super().__init__()
        self.fc = nn.Linear(channels, branches)
        self.bn = nn.BatchNorm1d(branches)

    def forward(self, shared: torch.Tensor) -> torch.Tensor:
        pooled = torch.flatten(F.adaptive_avg_pool2d(shared, 1), 1)
        return F.softmax(F.relu(self.bn(self.fc(pooled))), dim=1)


def rampup(epoch: int, length: int) -> float:
    """The official sigmoid ramp-up: exp(-5 (1 - t)^2), t = epoch / length clipped to [0, 1]."""
    if length <= 0:
        return 1.0
    t = min(max(epoch / length, 0.0), 1.0)
    return math.exp(-5.0 * (1.0 - t) ** 2)


@METHODS.register("one")
class OnTheFlyNativeEnsemble(Method):
    @dataclass
    class Params:
        branches: int = field(3, ge=2)
        temperature: float = field(3.0, gt=0.0)
        kd_weight: float = field(1.0, ge=0.0)        # the ramp's final value
        rampup_epochs: int = field(80, ge=0)
        ce_weight: float = field(1.0, ge=0.0)
        ensemble_ce_weight: float = field(1.0, ge=0.0)

    needs = Needs(taps=("logits", "stage_outputs"))

    @classmethod
    def check_config(cls, config, shapes) -> None:
        super().check_config(config, shapes)
        check_staged(config, shapes, "method one (branches over shared low stages)")

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        self.extra_branches = {}
        self.gates = {}
        for name, net in ctx.networks.items():
            fresh = [ModelTail(build_model(net.arch, ctx.num_classes, ctx.input_shape[0]))
                     for _ in range(params.branches - 1)]
            self.extra_branches[name] = self.train_with(name, nn.ModuleList(fresh))
            self.gates[name] = self.train_with(name, Gate(ctx.stage_channels[name][-2], params.branches))

    def wants_features(self) -> bool:
        return True

    def branch_logits(self, name: str, out: dict):
        """(every branch's logits, the gated ensemble's)."""
        shared = out["stage_outputs"][-2]
        logits: List[torch.Tensor] = [out["logits"]] + [branch(shared)[1] for branch in self.extra_branches[name]]
        gate = self.gates[name](shared)
        ensemble = (torch.stack(logits, 2) * gate.unsqueeze(1).to(logits[0].dtype)).sum(2)
        return logits, ensemble

    def kd_scale(self) -> float:
        return self.params.kd_weight * rampup(self.epoch, self.params.rampup_epochs)

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        for name in self.network_names:
            logits, ensemble = self.branch_logits(name, outputs[name])
            target = ensemble.detach()
            weighted(terms, f"ce.{name}", p.ce_weight, lambda: sum(F.cross_entropy(upcast(z), batch.labels) for z in logits))
            weighted(terms, f"ensemble_ce.{name}", p.ensemble_ce_weight,
                     lambda: F.cross_entropy(upcast(ensemble), batch.labels))
            weighted(terms, f"kd.{name}", self.kd_scale(), lambda: sum(soft_kl(z, target, p.temperature) for z in logits))
        return terms

    @classmethod
    def metric_names(cls, params, shapes):
        return [m for name in shapes.networks for m in MultiHeadAccuracy.names_for(name, params.branches, "branch")]

    def evaluators(self) -> list:
        counts = {name: self.params.branches for name in self.network_names}
        return [MultiHeadAccuracy(self.network_names, counts, self.branch_logits, kind="branch")]
