"""FSP, "A Gift from Knowledge Distillation" (Yim et al., 2017), as RepDistiller
runs it. For each stage the FSP matrix between its input and its output
(``G_ij = mean over positions of F1_i * F2_j``; the larger map pooled to the
smaller), term ``fsp_weight * sum over stages of mean((G_s - G_t)^2)``
(weight 50; RepDistiller's ``FSP`` in ``distiller_zoo/FSP.py`` over
``feat[:-1]``). Taps: ``stem`` and ``stage_outputs``: stage k's input is the stem
for k = 0 (RepDistiller's ``f0``: ``relu(bn1(conv1 x))`` on ResNets, ``conv1 x``
on WRN), else stage k-1's output as the next stage receives it. Student and teacher need
equal channel counts at every pair (a ResNet-20 student takes a ResNet-110
teacher: both 16/32/64).

The paper's two stages: the first ``init_fraction`` of the epochs train the
FSP term alone (the initialisation), the rest train ``ce_weight * CE`` (plus
KD if ``kd_weight`` > 0) without it."""
from dataclasses import dataclass

from distill.errors import ConfigError
from distill.losses.fsp import fsp_loss
from distill.methods.base import Method, Needs, weighted
from distill.methods.exit_heads import check_staged
from distill.methods.logit_terms import add_logit_terms
from distill.methods.registry import METHODS
from distill.methods.staged_training import first_stage_epochs
from distill.typed_dict import field

FSP_TAPS = ("logits", "stem", "stage_outputs")


def stage_io_channels(stem_channels, stage_channels):
    """(input channels, output channels) of every stage."""
    inputs = (stem_channels,) + tuple(stage_channels[:-1])
    return list(zip(inputs, stage_channels))


@METHODS.register("fsp")
class FSP(Method):
    built_from = ("init_fraction",)   # the first stage's length, in epochs, is fixed when built
    @dataclass
    class Params:
        fsp_weight: float = field(50.0, ge=0.0)
        init_fraction: float = field(0.15, ge=0.0, le=1.0)
        ce_weight: float = field(1.0, ge=0.0)
        kd_weight: float = field(0.0, ge=0.0)
        temperature: float = field(4.0, gt=0.0)

    needs = Needs(taps=FSP_TAPS, teacher=True, teacher_taps=FSP_TAPS)

    @classmethod
    def check_config(cls, config, shapes) -> None:
        super().check_config(config, shapes)
        check_staged(config, shapes, "method fsp (the flow between a stage's input and output)", min_stages=1)
        teacher = stage_io_channels(shapes.teacher.stem_channels, shapes.teacher.stage_channels)
        for name, net in shapes.networks.items():
            student = stage_io_channels(net.stem_channels, net.stage_channels)
            if student != teacher:
                raise ConfigError("teacher.arch", f"FSP pairs stage inputs and outputs of equal channels: {net.arch} "
                                                  f"has {student}, teacher {shapes.teacher.arch} has {teacher}; "
                                                  "allowed: a teacher with the student's stage channels")

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        self.init_epochs = first_stage_epochs(params.init_fraction, ctx.epochs)

    def in_init_stage(self) -> bool:
        return self.epoch < self.init_epochs

    def teacher_taps(self) -> tuple:
        return self.needs.teacher_taps if self.wants_features() else ("logits",)

    def wants_features(self) -> bool:
        return self.in_init_stage() and self.params.fsp_weight > 0

    @staticmethod
    def stage_io(out: dict):
        """(input, output) of every stage."""
        return list(zip([out["stem"]] + list(out["stage_outputs"][:-1]), out["stage_outputs"]))

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        for name in self.network_names:
            out = outputs[name]
            if self.in_init_stage():
                weighted(terms, f"fsp.{name}", p.fsp_weight,
                         lambda: fsp_loss(self.stage_io(out), self.stage_io(teacher_output)))
            else:
                add_logit_terms(terms, name, out["logits"], batch.labels, teacher_output["logits"], p.ce_weight,
                                p.kd_weight, p.temperature)
        return terms
