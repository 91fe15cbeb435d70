"""TADML's losses (JS, L1, L2, topology) and the whole method's terms against an
independent float64 numpy derivation (tests/fixtures/make_tadml_values.py wrote
tests/fixtures/tadml_values.json)."""
import json
import os

import pytest
import torch
from torch import nn

from distill.losses import NEIGHBOURHOODS, js_divergence, l1_logits, l2_logits, topology_loss
from distill.losses.topology_loss import similarity
from distill.methods import METHODS
from distill.methods.context import context_for
from distill.methods.base import Batch

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "tadml_values.json")
RTOL = 1e-10

with open(FIXTURE) as _fh:
    VALUES = json.load(_fh)
PRIM = VALUES["primitives"]
TOPO = VALUES["topology"]
METHOD_CASES = VALUES["method_cases"]


def t64(values, requires_grad=False):
    return torch.tensor(values, dtype=torch.float64, requires_grad=requires_grad)


def close(value, expected):
    assert value.dtype == torch.float64, f"computed in {value.dtype}, not float64"
    assert value.dim() == 0
    assert float(value) == pytest.approx(expected, rel=RTOL, abs=0.0)


# -- primitives -----------------------------------------------------------------------
def test_fixture_covers_the_cases():
    assert len({c["temperature"] for c in PRIM["js"]}) >= 4
    assert {c["neighbourhood"] for c in TOPO["cases"]} == {"all", "knn"}
    assert len(METHOD_CASES) >= 10
    assert {len(c["logits"]) for c in METHOD_CASES} == {2, 3}


@pytest.mark.parametrize("case", PRIM["js"], ids=lambda c: f"T={c['temperature']}")
def test_js_divergence(case):
    close(js_divergence(t64(PRIM["z"]), t64(PRIM["target"]), case["temperature"]), case["value"])


@pytest.mark.parametrize("case", PRIM["js_sharp"], ids=lambda c: f"T={c['temperature']}")
def test_js_divergence_confident_rows(case):
    close(js_divergence(t64(PRIM["z_sharp"]), t64(PRIM["target"]), case["temperature"]), case["value"])


def test_js_divergence_eps_inside_logs():
    case = PRIM["js_tiny"]
    # the fixture tells the two conventions apart by far more than the tolerance
    assert abs(case["value"] - case["value_without_eps"]) > 100 * RTOL * case["value"]
    close(js_divergence(t64(case["z"]), t64(case["target"]), case["temperature"]), case["value"])


def test_js_divergence_properties():
    z, target = t64(PRIM["z"]), t64(PRIM["target"])
    assert float(js_divergence(z, z, 1.0)) == pytest.approx(PRIM["js_self"], abs=1e-12)
    # symmetric, bounded by log 2, no T^2 factor (it shrinks as T grows)
    assert float(js_divergence(z, target, 2.0)) == pytest.approx(float(js_divergence(target, z, 2.0)), rel=1e-12)
    values = [float(js_divergence(z, target, T)) for T in (1.0, 2.0, 4.0, 8.0)]
    assert all(0 < v < 0.6931471805599453 for v in values)
    assert values == sorted(values, reverse=True)


def test_js_target_is_used_as_given_and_gradient_reaches_only_logits():
    z = t64(PRIM["z"], requires_grad=True)
    target = t64(PRIM["target"], requires_grad=True)
    value = js_divergence(z, target.detach(), 2.0)
    value.backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert target.grad is None


def test_l1_and_l2_logit_distances():
    z, target = t64(PRIM["z"]), t64(PRIM["target"])
    close(l1_logits(z, target), PRIM["l1"])
    close(l2_logits(z, target), PRIM["l2"])


def test_float32_inputs_stay_float32():
    z = torch.tensor(PRIM["z"], dtype=torch.float32)
    target = torch.tensor(PRIM["target"], dtype=torch.float32)
    assert js_divergence(z, target, 1.0).dtype == torch.float32
    assert l1_logits(z, target).dtype == torch.float32
    assert float(l2_logits(z, target)) == pytest.approx(PRIM["l2"], rel=1e-5)


@pytest.mark.parametrize("case", TOPO["cases"], ids=lambda c: f"{c['neighbourhood']}-K={c['k']}")
def test_topology_loss(case):
    e, target = t64(TOPO["embedding"]), t64(TOPO["target"])
    close(topology_loss(e, target, case["neighbourhood"], case["k"]), case["value"])


@pytest.mark.parametrize("case", [c for c in TOPO["cases"] if c["neighbourhood"] == "knn"], ids=lambda c: f"K={c['k']}")
def test_knn_mask_is_the_targets_nearest_neighbours(case):
    target = t64(TOPO["target"])
    mask = NEIGHBOURHOODS.get("knn")(similarity(target), case["k"])
    expected = torch.zeros_like(mask)
    for i, j in case["mask"]:
        expected[i, j] = True
    assert torch.equal(mask, expected)
    assert not mask.diagonal().any()


def test_knn_uses_the_target_space_not_the_own_one():
    e, target = t64(TOPO["embedding"]), t64(TOPO["target"])
    own = NEIGHBOURHOODS.get("knn")(similarity(e), 2)
    theirs = NEIGHBOURHOODS.get("knn")(similarity(target), 2)
    assert not torch.equal(own, theirs), "fixture embeddings should have different neighbourhoods"
    case = next(c for c in TOPO["cases"] if c["neighbourhood"] == "knn" and c["k"] == 2)
    close(topology_loss(e, target, "knn", 2), case["value"])


def test_topology_is_invariant_to_row_scaling():
    e, target = t64(TOPO["embedding"]), t64(TOPO["target"])
    scale = t64(TOPO["scaled_rows"])[:, None]
    for case in TOPO["cases"]:
        close(topology_loss(e * scale, target, case["neighbourhood"], case["k"]), case["value"])


def test_topology_target_gets_no_gradient():
    e = t64(TOPO["embedding"], requires_grad=True)
    target = t64(TOPO["target"], requires_grad=True)
    topology_loss(e, target.detach(), "all").backward()
    assert e.grad is not None and e.grad.abs().sum() > 0
    assert target.grad is None


@pytest.mark.parametrize("k", [1, 3, 5])
def test_random_neighbourhood_mask_and_loss(k):
    e, target = t64(TOPO["embedding"]), t64(TOPO["target"])
    batch = e.shape[0]
    s_target = similarity(target)
    torch.manual_seed(123)
    mask = NEIGHBOURHOODS.get("random")(s_target, k)
    assert mask.dtype == torch.bool and mask.shape == (batch, batch)
    assert mask.sum(dim=1).tolist() == [k] * batch, "exactly K partners per anchor"
    assert not mask.diagonal().any(), "an anchor is never its own partner"

    torch.manual_seed(123)
    loss = topology_loss(e, target, "random", k)
    manual = ((similarity(e) - s_target) ** 2)[mask].mean()
    assert loss.dtype == torch.float64
    assert float(loss) == pytest.approx(float(manual), rel=RTOL)

    # the same seed gives the same partners; the masks vary with the seed
    torch.manual_seed(123)
    assert torch.equal(NEIGHBOURHOODS.get("random")(s_target, k), mask)
    masks = set()
    for seed in range(8):
        torch.manual_seed(seed)
        masks.add(tuple(NEIGHBOURHOODS.get("random")(s_target, k).flatten().tolist()))
    assert len(masks) > 1


def test_random_neighbourhood_with_k_at_least_batch_is_all_pairs():
    e, target = t64(TOPO["embedding"]), t64(TOPO["target"])
    batch = e.shape[0]
    torch.manual_seed(0)
    mask = NEIGHBOURHOODS.get("random")(similarity(target), batch + 3)
    assert torch.equal(mask, ~torch.eye(batch, dtype=torch.bool))
    all_case = next(c for c in TOPO["cases"] if c["neighbourhood"] == "all")
    torch.manual_seed(0)
    close(topology_loss(e, target, "random", batch + 3), all_case["value"])


# -- the whole method --------------------------------------------------------------------
def _method_id(case):
    changed = {k: v for k, v in case["params"].items() if k not in ("adv_weight",)}
    return f"{len(case['logits'])}peers-" + "-".join(f"{k}={v}" for k, v in changed.items())


def run_method(case, requires_grad=False):
    cls = METHODS.get("tadml")
    names = list(case["logits"])
    method = cls(cls.Params(**case["params"]), context_for({n: nn.Identity() for n in names}, len(case["logits"]["net0"][0])))
    labels = torch.tensor(case["labels"], dtype=torch.long)
    outputs = {n: {"logits": t64(case["logits"][n], requires_grad), "embedding": t64(case["embeddings"][n], requires_grad)}
               for n in names}
    terms = method.losses(Batch(torch.zeros(len(labels), 1, 2, 2, dtype=torch.float64), labels), outputs, None)
    return method, outputs, terms


@pytest.mark.parametrize("case", METHOD_CASES, ids=[_method_id(c) for c in METHOD_CASES])
def test_tadml_terms_match_float64_derivation(case):
    assert case["params"]["adv_weight"] == 0.0
    method, _, terms = run_method(case)
    assert sorted(terms) == sorted(case["terms"]), "named terms differ from the derivation"
    for name, expected in case["terms"].items():
        assert terms[name].dtype == torch.float64, name
        assert float(terms[name]) == pytest.approx(expected, rel=RTOL, abs=0.0), name
    assert float(sum(terms.values())) == pytest.approx(case["total"], rel=RTOL, abs=0.0)
    assert len(method.discriminators) == 0 and method.disc_optimizer is None


def test_zero_weights_remove_terms():
    base = next(c for c in METHOD_CASES if len(c["logits"]) == 2)
    for weight, prefix in (("ce_weight", "ce"), ("js_weight", "js"), ("topology_weight", "topology")):
        case = {**base, "params": {**base["params"], weight: 0.0}}
        _, _, terms = run_method(case)
        assert not any(name.startswith(prefix + ".") for name in terms), f"{weight}=0 left a {prefix} term"
        assert len(terms) == 4
    # the default L1/L2 weights are 0: no terms
    _, _, terms = run_method(base)
    assert not any(name.startswith(("l1.", "l2.", "adv.")) for name in terms)


def test_zero_topology_weight_skips_computation_and_features(monkeypatch):
    import distill.methods.tadml as tadml_module

    def boom(*args, **kwargs):
        raise AssertionError("topology_loss computed although topology_weight = 0")

    monkeypatch.setattr(tadml_module, "topology_loss", boom)
    base = next(c for c in METHOD_CASES if len(c["logits"]) == 2)
    case = {**base, "params": {**base["params"], "topology_weight": 0.0}}
    method, _, terms = run_method(case)
    assert set(terms) == {"ce.net0", "ce.net1", "js.net0", "js.net1"}
    assert not method.wants_features(), "no feature taps are needed without topology and adversarial terms"


def test_each_peers_terms_reach_only_its_own_outputs():
    case = next(c for c in METHOD_CASES if len(c["logits"]) == 3 and c["params"]["js_weight"] > 0
                and c["params"]["topology_weight"] > 0)
    _, outputs, terms = run_method(case, requires_grad=True)
    leaves = {(n, key): outputs[n][key] for n in outputs for key in ("logits", "embedding")}
    for term, value in terms.items():
        owner = term.split(".", 1)[1]
        grads = torch.autograd.grad(value, list(leaves.values()), allow_unused=True, retain_graph=True)
        reached = {n for (n, _), g in zip(leaves, grads) if g is not None and torch.count_nonzero(g) > 0}
        assert reached == {owner}, f"{term} sends gradient into {sorted(reached)}"
