"""FitNets (Romero et al., 2015), as RepDistiller runs it (``train_student.py``
with ``--distill hint``, ``ConvReg`` and ``HintLoss``): a trainable regressor
(1x1 conv + BN + ReLU, ``HintAdapter``; ``regressor_relu: false`` drops the ReLU)
maps the student's guided stage to the teacher's hint stage; term
``hint_weight * mean over all elements of (regressor(F_s) - F_t)^2`` (MSE; weight
100). Tap: ``stage_outputs``, the map a stage hands to the next (RepDistiller's
``is_feat`` features: post-ReLU block outputs on post-activation ResNets, the raw
residual sums on pre-activation WRN/ResNet-164), the middle paired stage by default
(RepDistiller's ``hint_layer`` 2 of a three-stage net: the middle stage's output).

``schedule: two_stage`` (the paper's): the first ``hint_fraction`` of the
epochs train the hint term alone (the student up to its guided stage and the
adapter), then ``ce_weight * CE + kd_weight * T^2 KL`` (KD, T = 4) without the
hint. ``one_stage``: all terms together from the start. The adapter is trained
with the student (its optimizer and schedule)."""
from dataclasses import dataclass
from typing import Optional


from distill.errors import ConfigError
from distill.losses.feature_regression import HintAdapter, hint_loss
from distill.methods.base import Method, Needs, weighted
from distill.methods.logit_terms import add_logit_terms
from distill.methods.registry import METHODS
from distill.methods.staged_training import first_stage_epochs
from distill.methods.stage_pairs import paired_stages
from distill.typed_dict import field

HINT_TAPS = ("logits", "stage_outputs")


@METHODS.register("fitnet")
class FitNet(Method):
    built_from = ("hint_fraction",)   # the hint stage's length, in epochs, is fixed when built
    @dataclass
    class Params:
        hint_weight: float = field(100.0, ge=0.0)
        hint_stage: Optional[int] = None        # index into the paired stages; None: the middle one
        schedule: str = field("two_stage", choices=("two_stage", "one_stage"))
        hint_fraction: float = field(0.15, ge=0.0, le=1.0)   # two_stage: share of epochs for hints alone
        ce_weight: float = field(0.1, ge=0.0)
        kd_weight: float = field(0.9, ge=0.0)
        temperature: float = field(4.0, gt=0.0)
        regressor_relu: bool = True           # RepDistiller's ConvReg(use_relu=True)

    needs = Needs(taps=HINT_TAPS, teacher=True, teacher_taps=HINT_TAPS)

    @staticmethod
    def _pair(student_stages: int, teacher_stages: int, hint_stage: Optional[int]):
        pairs = paired_stages(student_stages, teacher_stages, None, "method.hint_stage")
        index = len(pairs) // 2 if hint_stage is None else hint_stage
        return paired_stages(student_stages, teacher_stages, [index], "method.hint_stage")[0]

    @classmethod
    def check_config(cls, config, shapes) -> None:
        super().check_config(config, shapes)
        for name, net in shapes.networks.items():
            if not net.stage_channels:
                raise ConfigError("method.hint_stage", f"{net.arch} ({name}) has no stages to guide; FitNet needs a "
                                                       "network with stages (see distill/models/features.py)")
            cls._pair(len(net.stage_channels), len(shapes.teacher.stage_channels), config.method.params.hint_stage)

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        teacher_channels = ctx.stage_channels["teacher"]
        self.pairs = {}
        self.adapters = {}
        for name in self.network_names:
            s, t = self._pair(len(ctx.stage_channels[name]), len(teacher_channels), params.hint_stage)
            self.pairs[name] = (s, t)
            if params.hint_weight > 0:
                regressor = HintAdapter(ctx.stage_channels[name][s], teacher_channels[t], params.regressor_relu)
                self.adapters[name] = self.train_with(name, regressor)
        self.hint_epochs = first_stage_epochs(params.hint_fraction, ctx.epochs) if params.schedule == "two_stage" else 0

    def in_hint_stage(self) -> bool:
        return self.epoch < self.hint_epochs

    def teacher_taps(self) -> tuple:
        return self.needs.teacher_taps if self.wants_features() else ("logits",)

    def wants_features(self) -> bool:
        return self.params.hint_weight > 0 and (self.in_hint_stage() or self.params.schedule == "one_stage")

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        hints = self.in_hint_stage() or p.schedule == "one_stage"
        for name in self.network_names:
            out = outputs[name]
            if not self.in_hint_stage():
                add_logit_terms(terms, name, out["logits"], batch.labels, teacher_output["logits"], p.ce_weight,
                                p.kd_weight, p.temperature)
            if hints:
                s, t = self.pairs[name]
                weighted(terms, f"hint.{name}", p.hint_weight, lambda: hint_loss(
                    self.adapters[name](out["stage_outputs"][s], teacher_output["stage_outputs"][t].shape[-2:]),
                    teacher_output["stage_outputs"][t]))
        return terms
