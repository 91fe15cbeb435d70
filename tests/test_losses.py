"""KD and DML losses against an independent float64 numpy derivation
(tests/fixtures/make_loss_values.py wrote tests/fixtures/loss_values.json)."""
import json
import math
import os

import pytest
import torch
from torch import nn

from distill.methods import METHODS
from distill.methods.context import context_for
from distill.methods.base import Batch

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "loss_values.json")
RTOL = 1e-10

with open(FIXTURE) as _fh:
    VALUES = json.load(_fh)
CASES = VALUES["cases"]


def _case_id(case):
    extra = f"-{len(case['peers'])}peers" if "peers" in case else ""
    src = "-reference" if "source" in case else ""
    return case["method"] + "-" + "-".join(f"{k}={v}" for k, v in case["params"].items()) + extra + src


def build(method: str, params: dict, names):
    cls = METHODS.get(method)
    return cls(cls.Params(**params), context_for({name: nn.Identity() for name in names}, 10))


def t64(values, requires_grad=False):
    return torch.tensor(values, dtype=torch.float64, requires_grad=requires_grad)


def run_case(case):
    labels = torch.tensor(case["labels"], dtype=torch.long)
    if case["method"] == "kd":
        student = t64(case["student"])
        method = build("kd", case["params"], ["student"])
        outputs = {"student": {"logits": student}}
        teacher_output = {"logits": t64(case["teacher"])}
        images = torch.zeros(len(labels), 1, 2, 2, dtype=torch.float64)
    else:
        method = build("dml", case["params"], list(case["peers"]))
        outputs = {name: {"logits": t64(z)} for name, z in case["peers"].items()}
        teacher_output = None
        images = torch.zeros(len(labels), 1, 2, 2, dtype=torch.float64)
    return method.losses(Batch(images, labels), outputs, teacher_output)


def test_fixture_is_not_empty_and_covers_both_methods():
    methods = {c["method"] for c in CASES}
    assert methods == {"kd", "dml"}
    assert len(CASES) >= 20
    assert any(len(c.get("peers", {})) == 3 for c in CASES)
    assert len({c["params"]["temperature"] for c in CASES}) >= 3


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_loss_terms_match_float64_derivation(case):
    terms = run_case(case)
    assert sorted(terms) == sorted(case["terms"]), "named terms differ from the derivation"
    for name, expected in case["terms"].items():
        value = terms[name]
        assert value.dtype == torch.float64, f"{name} was computed in {value.dtype}, not float64"
        assert value.dim() == 0
        assert float(value) == pytest.approx(expected, rel=RTOL, abs=0.0), name
    total = sum(terms.values())
    assert float(total) == pytest.approx(case["total"], rel=RTOL, abs=0.0)


def test_reference_values_from_kd_frameworks_are_reproduced():
    """research/kd_frameworks.md section 5 (printed to 10 significant digits)."""
    ref = VALUES["reference_values"]
    kd_case = next(c for c in CASES if c.get("source") and c["method"] == "kd")
    terms = run_case(kd_case)
    assert float(terms["kd.student"]) / 0.9 == pytest.approx(ref["kd_kl_t2_T4"], rel=1e-8)
    assert float(terms["ce.student"]) / 0.1 == pytest.approx(ref["ce"], rel=1e-8)
    assert float(sum(terms.values())) == pytest.approx(ref["kd_total_T4_alpha0.9"], rel=1e-8)
    dml_case = next(c for c in CASES if c.get("source") and c["method"] == "dml")
    terms = run_case(dml_case)
    assert float(terms["kl.self"]) == pytest.approx(ref["dml_kl_T1"], rel=1e-8)


def _kd_inputs(seed=0, batch=6, classes=7):
    gen = torch.Generator().manual_seed(seed)
    student = torch.randn(batch, classes, generator=gen, dtype=torch.float64)
    teacher = torch.randn(batch, classes, generator=gen, dtype=torch.float64) * 2
    labels = torch.randint(0, classes, (batch,), generator=gen)
    return student, teacher, labels


@pytest.mark.parametrize("alpha, present, absent", [(0.0, "ce.student", "kd.student"),
                                                     (1.0, "kd.student", "ce.student")])
def test_kd_zero_weight_removes_term(alpha, present, absent):
    student, teacher, labels = _kd_inputs()
    method = build("kd", {"temperature": 4.0, "alpha": alpha}, ["student"])
    terms = method.losses(Batch(student, labels), {"student": {"logits": student}}, {"logits": teacher})
    assert present in terms
    assert absent not in terms


def test_kd_zero_weight_skips_computation(monkeypatch):
    """A zero weight must skip the term's computation, not compute and multiply by 0."""
    import distill.methods.kd as kd_module

    def boom(*args, **kwargs):
        raise AssertionError("soft_kl computed although alpha = 0")

    monkeypatch.setattr(kd_module, "soft_kl", boom)
    student, teacher, labels = _kd_inputs()
    method = build("kd", {"temperature": 4.0, "alpha": 0.0}, ["student"])
    terms = method.losses(Batch(student, labels), {"student": {"logits": student}}, {"logits": teacher})
    assert list(terms) == ["ce.student"]


@pytest.mark.parametrize("ce_weight, kl_weight, expected", [
    (0.0, 1.0, {"kl.a", "kl.b", "kl.c"}),
    (1.0, 0.0, {"ce.a", "ce.b", "ce.c"}),
    (1.0, 1.0, {"ce.a", "ce.b", "ce.c", "kl.a", "kl.b", "kl.c"}),
])
def test_dml_zero_weight_removes_term(ce_weight, kl_weight, expected):
    gen = torch.Generator().manual_seed(1)
    outputs = {n: {"logits": torch.randn(5, 4, generator=gen, dtype=torch.float64)} for n in "abc"}
    labels = torch.randint(0, 4, (5,), generator=gen)
    method = build("dml", {"temperature": 2.0, "ce_weight": ce_weight, "kl_weight": kl_weight}, list("abc"))
    terms = method.losses(Batch(labels, labels), outputs, None)
    assert set(terms) == expected


def test_kd_teacher_target_is_detached():
    student, teacher, labels = _kd_inputs()
    student.requires_grad_(True)
    teacher.requires_grad_(True)   # even if the caller forgot no_grad, no gradient reaches it
    method = build("kd", {"temperature": 4.0, "alpha": 0.9}, ["student"])
    terms = method.losses(Batch(student, labels), {"student": {"logits": student}}, {"logits": teacher})
    sum(terms.values()).backward()
    assert teacher.grad is None
    assert student.grad is not None and student.grad.abs().sum() > 0


def test_dml_peer_targets_are_detached():
    """Each peer's KL term sends gradient only into that peer's own logits."""
    gen = torch.Generator().manual_seed(2)
    logits = {n: torch.randn(5, 4, generator=gen, dtype=torch.float64).requires_grad_(True) for n in "abc"}
    labels = torch.randint(0, 4, (5,), generator=gen)
    method = build("dml", {"temperature": 3.0, "ce_weight": 1.0, "kl_weight": 1.0}, list("abc"))
    terms = method.losses(Batch(labels, labels), {n: {"logits": z} for n, z in logits.items()}, None)
    for name in "abc":
        grads = torch.autograd.grad(terms[f"kl.{name}"], list(logits.values()), allow_unused=True)
        for other, grad in zip(logits, grads):
            if other == name:
                assert grad is not None and grad.abs().sum() > 0
            else:
                assert grad is None or torch.count_nonzero(grad) == 0, \
                    f"kl.{name} sends gradient into peer {other}"


def test_dml_gradient_matches_own_network_only_formula():
    """With detached peers the gradient of kl.k wrt z_k is T * (p_k^T - mean_j p_j^T) / B."""
    gen = torch.Generator().manual_seed(3)
    T = 2.0
    logits = {n: torch.randn(4, 5, generator=gen, dtype=torch.float64).requires_grad_(True) for n in "ab"}
    labels = torch.randint(0, 5, (4,), generator=gen)
    method = build("dml", {"temperature": T, "ce_weight": 0.0, "kl_weight": 1.0}, list("ab"))
    terms = method.losses(Batch(labels, labels), {n: {"logits": z} for n, z in logits.items()}, None)
    (grad,) = torch.autograd.grad(terms["kl.a"], [logits["a"]])
    p_a = torch.softmax(logits["a"].detach() / T, 1)
    p_b = torch.softmax(logits["b"].detach() / T, 1)
    expected = T * (p_a - p_b) / 4
    assert torch.allclose(grad, expected, rtol=1e-10, atol=1e-14)
    assert math.isfinite(float(terms["kl.a"].detach()))
