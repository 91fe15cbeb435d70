"""Which map each stage-reading method feeds its loss, on a post-activation ResNet and on a
pre-activation net, in float64.

The reference codes read what each stage module returns: the attention-transfer
authors' code and RepDistiller take a group's output, which is ``relu(o + x)`` on
post-activation ResNets and the raw residual sum on WRN / ResNet-164; RepDistiller's
``f0`` is ``relu(bn1(conv1(x)))`` on ResNets and ``conv1(x)`` on WRN. Here those maps
are taken by running the model's modules in sequence (``stage(x)``, no feature
contract involved), and each method's term is compared with the float64 value the
fixture script's numpy functions (``tests/fixtures/make_feature_loss_values.py``)
give on them. Each case also checks that the other reading (the pre-activation sum on
a post-activation net, its ReLU on a pre-activation net) gives a different value, so
a method reading the wrong map fails here."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from distill.data.batch import Batch
from distill.methods import METHODS
from distill.methods.context import context_for
from distill.models import build_model
from fixtures.make_feature_loss_values import at_loss, fsp, multiscale, sp_loss

CLASSES = 5
SHAPE = (3, 16, 16)
RTOL = 1e-9
# (student, teacher): post-activation CIFAR ResNets, pre-activation WRNs; equal stage channels (FSP)
PAIRS = {"post-activation": ("resnet8", "resnet14"), "pre-activation": ("wrn_10_4", "wrn_16_4")}


def reference_maps(model, x):
    """(stem, [each stage module's output]) by running the modules as the reference nets do."""
    if model.post_activation:
        stem = F.relu(model.bn1(model.conv1(x)))
    else:
        stem = model.conv1(x)
    outs, out = [], stem
    for stage in model.stages:
        out = stage(out)
        outs.append(out)
    return stem.detach().numpy(), [o.detach().numpy() for o in outs]


@pytest.fixture(scope="module", params=list(PAIRS))
def pair(request):
    torch.manual_seed(0)
    student_arch, teacher_arch = PAIRS[request.param]
    student = build_model(student_arch, CLASSES).double().train()
    teacher = build_model(teacher_arch, CLASSES).double().train()
    x = torch.randn(6, *SHAPE, dtype=torch.float64)
    labels = torch.arange(6) % CLASSES
    with torch.no_grad():
        s_out, t_out = student.features(x), teacher.features(x)
        s_stem, s_maps = reference_maps(student, x)
        t_stem, t_maps = reference_maps(teacher, x)
    # the map a method must not read: on a post-activation net the residual sum before the ReLU,
    # on a pre-activation net the ReLU of the residual sum
    if student.post_activation:
        s_other = [m.numpy() for m in s_out["stages_pre"]]
        t_other = [m.numpy() for m in t_out["stages_pre"]]
    else:
        s_other, t_other = [np.maximum(m, 0.0) for m in s_maps], [np.maximum(m, 0.0) for m in t_maps]
    # the two readings differ: negative entries are present where the ReLU matters
    for a, b in zip(s_maps + t_maps, s_other + t_other):
        assert (np.minimum(a, b) < 0).mean() > 0.2
    return dict(kind=request.param, student=student, teacher=teacher, x=x, labels=labels, s_out=s_out,
                t_out=t_out, s=s_maps, t=t_maps, s_stem=s_stem, t_stem=t_stem, s_other=s_other, t_other=t_other)


def term(pair, method, params, name, epochs=10):
    cls = METHODS.get(method)
    ctx = context_for({"net0": pair["student"]}, CLASSES, teacher=pair["teacher"], input_shape=SHAPE, epochs=epochs)
    m = cls(cls.Params(**params), ctx).double().train()
    m.on_epoch_start(0)
    terms = m.losses(Batch(images=pair["x"], labels=pair["labels"]), {"net0": pair["s_out"]}, pair["t_out"])
    value = terms[f"{name}.net0"].detach()
    assert value.dtype == torch.float64
    return float(value), m


def check(got, want, alternative):
    assert got == pytest.approx(want, rel=RTOL, abs=0.0)
    # far beyond float64 round-off (RTOL), so the comparison above tells the two readings apart
    assert abs(alternative - want) > 1e-4 * abs(want), "the test cannot tell the two readings apart"


@pytest.mark.parametrize("method", ["at", "ksanc"])
def test_attention_methods_read_the_stage_outputs(pair, method):
    got, _ = term(pair, method, {"at_weight": 1.0, "ce_weight": 0.0}, "at")
    want = sum(at_loss(s, t, 2.0) for s, t in zip(pair["s"], pair["t"]))
    other = sum(at_loss(s, t, 2.0) for s, t in zip(pair["s_other"], pair["t_other"]))
    check(got, want, other)


def test_hksanc_reads_the_stage_outputs(pair):
    got, _ = term(pair, "hksanc", {"at_weight": 1.0, "ce_weight": 0.0, "scales": [1, 2, 4]}, "at")
    want = sum(multiscale(s, t, (1, 2, 4)) for s, t in zip(pair["s"], pair["t"]))
    other = sum(multiscale(s, t, (1, 2, 4)) for s, t in zip(pair["s_other"], pair["t_other"]))
    check(got, want, other)


def test_sp_reads_the_last_stage_output(pair):
    got, _ = term(pair, "sp", {"sp_weight": 1.0, "ce_weight": 0.0}, "sp")
    check(got, sp_loss(pair["s"][-1], pair["t"][-1]), sp_loss(pair["s_other"][-1], pair["t_other"][-1]))


def test_fsp_reads_stem_and_stage_outputs(pair):
    def loss(s_stem, s_maps, t_stem, t_maps):
        s_io = list(zip([s_stem] + s_maps[:-1], s_maps))
        t_io = list(zip([t_stem] + t_maps[:-1], t_maps))
        return sum(float(((fsp(a, b) - fsp(c, d)) ** 2).mean()) for (a, b), (c, d) in zip(s_io, t_io))

    got, _ = term(pair, "fsp", {"fsp_weight": 1.0, "init_fraction": 0.5}, "fsp")
    want = loss(pair["s_stem"], pair["s"], pair["t_stem"], pair["t"])
    check(got, want, loss(pair["s_stem"], pair["s_other"], pair["t_stem"], pair["t_other"]))


def regressed(conv_weight, student_map, relu):
    """1x1 conv, BatchNorm in training mode (batch statistics, biased variance, eps 1e-5,
    weight 1, bias 0 as initialised), then ReLU: RepDistiller's ConvReg."""
    y = np.einsum("oc,bchw->bohw", conv_weight[:, :, 0, 0], student_map)
    mean = y.mean(axis=(0, 2, 3), keepdims=True)
    var = y.var(axis=(0, 2, 3), keepdims=True)
    y = (y - mean) / np.sqrt(var + 1e-5)
    return np.maximum(y, 0.0) if relu else y


@pytest.mark.parametrize("relu", [True, False])
def test_fitnet_reads_the_middle_stage_output_through_the_reference_regressor(pair, relu):
    got, method = term(pair, "fitnet", {"hint_weight": 1.0, "regressor_relu": relu}, "hint")
    weight = method.adapters["net0"].conv.weight.detach().numpy()
    s, t = pair["s"][1], pair["t"][1]
    want = float(((regressed(weight, s, relu) - t) ** 2).mean())
    other = float(((regressed(weight, pair["s_other"][1], relu) - pair["t_other"][1]) ** 2).mean())
    check(got, want, other)


def test_fitnet_regressor_carries_the_relu_by_default():
    assert METHODS.get("fitnet").Params().regressor_relu is True


def test_exits_and_self_distillation_read_the_stage_outputs(pair):
    """BYOT/SCD exits, SAD and SCD's similarity take what a stage hands on, like the methods above."""
    student = pair["student"]
    with torch.no_grad():
        for name in ("byot", "scd", "sad"):
            cls = METHODS.get(name)
            assert "stage_outputs" in cls.needs.taps and "stages" not in cls.needs.taps, name
    out = pair["s_out"]
    for got, want in zip(out["stage_outputs"], pair["s"]):
        np.testing.assert_array_equal(got.numpy(), want)
    assert student.post_activation == (pair["kind"] == "post-activation")
