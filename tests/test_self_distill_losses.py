"""The self-distillation losses and the self-distillation methods' terms (BYOT, SCD,
CS-KD, DDGSD, ONE) against float64 values derived independently in numpy
(tests/fixtures/make_self_distill_values.py states the conventions)."""
import json
import os

import pytest
import torch
from torch import nn

from distill.data.batch import Batch
from distill.losses.attention_similarity import attention_similarity, attention_similarity_gap, similarity_gap
from distill.losses.mmd import linear_mmd
from distill.losses.spatial_attention import sad_attention, sad_loss
from distill.methods import METHODS
from distill.methods.context import context_for
from distill.methods.one import rampup
from distill.models import build_model

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "self_distill_values.json")) as fh:
    V = json.load(fh)
RTOL = 1e-9
NUM_CLASSES = 5
INPUT_SHAPE = (3, 32, 32)


def t64(values):
    return torch.tensor(values, dtype=torch.float64)


X = {k: t64(v) for k, v in V["inputs"].items()}
M = V["method_inputs"]
LABELS = torch.tensor(V["labels"], dtype=torch.long)
CASES = V["cases"]


def close(got, want):
    got = torch.as_tensor(got)
    assert got.dtype == torch.float64, f"computed in {got.dtype}, not float64"
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=torch.float64), rtol=RTOL, atol=1e-12)


# --------------------------------------------------------------------------- losses
def test_attention_similarity_and_gap_across_sizes():
    close(attention_similarity(X["F4"]), V["losses"]["attention_similarity_F4"])
    close(attention_similarity(X["F2"]), V["losses"]["attention_similarity_F2"])
    close(similarity_gap(X["G"], X["Gt"]), V["losses"]["similarity_gap_G"])
    # a 4x4 map with 5 channels against a 2x2 map with 3 channels: (B, B) matrices, no resizing
    close(attention_similarity_gap(X["F4"], X["F2"]), V["losses"]["attention_similarity_gap_F4_F2"])
    close(attention_similarity_gap(X["F2"], X["F4"]), V["losses"]["attention_similarity_gap_F2_F4"])
    assert float(attention_similarity_gap(X["F4"], X["F4"])) == 0.0


def test_sad_attention_bilinear_and_softmax():
    close(sad_attention(X["sad_s"], (4, 4)), V["losses"]["sad_attention_s_4x4"])       # no resize
    close(sad_attention(X["sad_d"], (4, 4)), V["losses"]["sad_attention_d_4x4"])       # 2x2 -> 4x4
    close(sad_attention(X["sad_odd"], (5, 5)), V["losses"]["sad_attention_odd_5x5"])   # 3x3 -> 5x5
    close(sad_attention(X["sad_odd"], (2, 4)), V["losses"]["sad_attention_odd_2x4"])   # 3x3 -> 2x4
    rows = sad_attention(X["sad_d"], (4, 4)).sum(1)
    close(rows, torch.ones(3, dtype=torch.float64))


def test_sad_loss():
    close(sad_loss(X["sad_s"], X["sad_d"]), V["losses"]["sad_loss_up"])        # deeper 2x2 upsampled to 4x4
    close(sad_loss(X["sad_d"], X["sad_s"]), V["losses"]["sad_loss_down"])      # resized to the first map's size
    close(sad_loss(X["sad_rect"], X["sad_rect_d"]), V["losses"]["sad_loss_rect"])   # 2x3 -> 4x6
    close(sad_loss(X["sad_s"], X["sad_same"]), V["losses"]["sad_loss_same"])
    assert float(sad_loss(X["sad_s"], X["sad_s"])) == 0.0


def test_linear_mmd():
    close(linear_mmd(X["mmd_f"], X["mmd_g"]), V["losses"]["linear_mmd"])        # batches of 5 and 6
    close(linear_mmd(X["mmd_f"], X["mmd_g"][:5]), V["losses"]["linear_mmd_same_batch"])
    close(linear_mmd(X["mmd_g"][:5], X["mmd_f"]), V["losses"]["linear_mmd_same_batch"])


# --------------------------------------------------------------------------- methods
class FixedPartner(nn.Module):
    """Stands in for the network in CS-KD's partner forward: returns fixed logits."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        assert x.shape[0] == self.logits.shape[0]
        return self.logits


_RESNET8 = {}


def resnet8():
    if "net" not in _RESNET8:
        _RESNET8["net"] = build_model("resnet8", NUM_CLASSES)
    return _RESNET8["net"]


def build(method, params, network):
    cls = METHODS.get(method)
    return cls(cls.Params(**params), context_for({"net0": network}, NUM_CLASSES, input_shape=INPUT_SHAPE))


def images(b=None):
    return torch.zeros(b or len(LABELS), *INPUT_SHAPE, dtype=torch.float64)


def install_byot_adapter(method, m):
    """The fixture's features are 6-d: its adapter replaces the resnet8-sized one."""
    if "net0" not in method.hint_adapters:
        return
    adapters = method.hint_adapters["net0"]
    assert len(adapters) == 1, "resnet8 has 2 shallow exits; the code hints all but the one next to the deepest"
    weight = t64(m["adapter"]["weight"])
    linear = nn.Linear(weight.shape[1], weight.shape[0]).double()
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.copy_(t64(m["adapter"]["bias"]))
    adapters[0] = linear


def run_case(case):
    method_name, params, m = case["method"], case["params"], M[case["method"]]
    if method_name == "byot":
        method = build("byot", params, resnet8())
        install_byot_adapter(method, m)
        embeddings, logits = [t64(x) for x in m["embeddings"]], [t64(x) for x in m["logits"]]
        method.exit_outputs = lambda name, features: (embeddings, logits)
        outputs = {"net0": {"logits": logits[-1], "embedding": embeddings[-1]}}
        return method.losses(Batch(images=images(), labels=LABELS), outputs, None), method
    if method_name == "scd":
        method = build("scd", params, resnet8())
        logits = [t64(x) for x in m["logits"]]
        method.exit_outputs = lambda name, features: ([], logits)
        outputs = {"net0": {"logits": logits[-1], "stage_outputs": [t64(x) for x in m["stages"]]}}
        return method.losses(Batch(images=images(), labels=LABELS), outputs, None), method
    if method_name == "cs_kd":
        partner = FixedPartner(t64(m["partner"]))
        method = build("cs_kd", params, partner)
        batch = Batch(images=images(), labels=LABELS, partner_images=images())
        terms = method.losses(batch, {"net0": {"logits": t64(m["logits"])}}, None)
        assert partner.calls == (1 if params["kd_weight"] != 0.0 else 0)
        return terms, method
    if method_name == "ddgsd":
        method = build("ddgsd", params, resnet8())
        batch = Batch(images=images(), labels=LABELS, views=[images(), images()])
        outputs = {"net0": {"logits": t64(m["logits"]), "embedding": t64(m["embedding"])}}
        return method.losses(batch, outputs, None), method
    if method_name == "one":
        method = build("one", params, resnet8())
        logits, ensemble = [t64(x) for x in m["logits"]], t64(m["ensemble"])
        method.branch_logits = lambda name, out: (logits, ensemble)
        method.on_epoch_start(case["epoch"])
        outputs = {"net0": {"logits": logits[0], "stage_outputs": []}}
        return method.losses(Batch(images=images(), labels=LABELS), outputs, None), method
    raise AssertionError(method_name)


def _case_id(case):
    extra = f"-epoch={case['epoch']}" if "epoch" in case else ""
    return case["method"] + "-" + "-".join(f"{k}={v}" for k, v in case["params"].items()) + extra


def test_fixture_covers_every_method_and_removes_zero_weight_terms():
    assert {c["method"] for c in CASES} == {"byot", "scd", "cs_kd", "ddgsd", "one"}
    full = {"byot": {"ce", "exit_ce", "kd", "hint"}, "scd": {"ce", "exit_ce", "cons", "sim"},
            "cs_kd": {"ce", "kd"}, "ddgsd": {"ce", "kl", "mmd"}, "one": {"ce", "ensemble_ce", "kd"}}
    for method, names in full.items():
        keys = [{k.split(".")[0] for k in c["terms"]} for c in CASES if c["method"] == method]
        assert names in keys, f"{method}: no case with every term"
        for name in names:
            assert any(name not in k for k in keys), f"{method}: no case where {name} is weighted 0"
    assert {c["params"]["direction"] for c in CASES if c["method"] == "scd"} == {"deep_to_shallow", "progressive"}


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_method_terms_match_float64_derivation(case):
    terms, _ = run_case(case)
    assert sorted(terms) == sorted(case["terms"]), "named terms differ (a zero weight removes its term)"
    for name, expected in case["terms"].items():
        value = terms[name]
        assert value.dim() == 0, name
        assert value.dtype == torch.float64, f"{name} was computed in {value.dtype}, not float64"
        assert float(value) == pytest.approx(expected, rel=RTOL, abs=0.0), name
    assert float(sum(terms.values())) == pytest.approx(case["total"], rel=RTOL, abs=0.0)


@pytest.mark.parametrize("epoch, length, expected", V["rampup"])
def test_one_rampup(epoch, length, expected):
    assert rampup(epoch, length) == pytest.approx(expected, rel=1e-12, abs=0.0)


def test_byot_targets_are_detached():
    """kd and hint send no gradient into the deepest exit's logits or feature."""
    m = M["byot"]
    embeddings = [t64(x).requires_grad_(True) for x in m["embeddings"]]
    logits = [t64(x).requires_grad_(True) for x in m["logits"]]
    for form in ("adapted_l2", "mse"):
        method = build("byot", dict(alpha=0.25, temperature=2.5, hint_weight=0.7, ce_weight=2.0, hint_form=form),
                       resnet8())
        install_byot_adapter(method, m)
        method.exit_outputs = lambda name, features: (embeddings, logits)
        terms = method.losses(Batch(images=images(), labels=LABELS), {"net0": {}}, None)
        grads = torch.autograd.grad(terms["kd.net0"] + terms["hint.net0"], [logits[-1], embeddings[-1]],
                                    allow_unused=True)
        assert all(g is None or torch.count_nonzero(g) == 0 for g in grads)


def test_byot_kd_has_no_t_squared_and_its_gradient_is_the_codes_soft_cross_entropy():
    """The authors' code: -(softmax(t/T) * log_softmax(z/T)).sum(1).mean(), no T^2. Our KL has its gradient."""
    m = M["byot"]
    logits = [t64(x).requires_grad_(True) for x in m["logits"]]
    embeddings = [t64(x) for x in m["embeddings"]]
    method = build("byot", dict(alpha=1.0, temperature=3.0, hint_weight=0.0, ce_weight=0.0), resnet8())
    method.exit_outputs = lambda name, features: (embeddings, logits)
    kd = method.losses(Batch(images=images(), labels=LABELS), {"net0": {}}, None)["kd.net0"]
    target = torch.softmax(logits[-1].detach() / 3.0, dim=1)
    code = sum(-(target * torch.log_softmax(z / 3.0, dim=1)).sum(1).mean() for z in logits[:-1])
    ours = torch.autograd.grad(kd, logits[:-1])
    theirs = torch.autograd.grad(code, logits[:-1])
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_scd_similarity_target_is_detached():
    """deep_to_shallow: sim sends no gradient into the deepest stage map, only into the shallow ones."""
    m = M["scd"]
    stages = [t64(x).requires_grad_(True) for x in m["stages"]]
    logits = [t64(x) for x in m["logits"]]
    method = build("scd", dict(similarity_weight=250.0, consistency_weight=0.0, ce_weight=0.0, exit_ce_weight=0.0),
                   resnet8())
    method.exit_outputs = lambda name, features: ([], logits)
    terms = method.losses(Batch(images=images(), labels=LABELS), {"net0": {"stage_outputs": stages}}, None)
    assert list(terms) == ["sim.net0"]
    grads = torch.autograd.grad(terms["sim.net0"], stages, allow_unused=True)
    assert grads[2] is None or torch.count_nonzero(grads[2]) == 0
    assert grads[0].abs().sum() > 0 and grads[1].abs().sum() > 0
