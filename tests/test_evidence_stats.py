"""The evidence tables' statistics (intervals, Welch intervals of differences, Holm's
adjustment, verdicts) against values computed by hand in float64
(tests/fixtures/make_evidence_values.py)."""
import json
import math
import os

import pytest

from platform.evidence_stats import (CONTRADICTED, HOLDS, NOT_SHOWN, Difference, difference_interval, holm,
                                     mean_interval, verdict)

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "evidence_values.json")) as fh:
    V = json.load(fh)
REL = 1e-9


@pytest.mark.parametrize("name", sorted(V["intervals"]))
def test_mean_interval(name):
    case = V["intervals"][name]
    got = mean_interval(case["values"])
    assert got.n == len(case["values"])
    for key in ("mean", "std", "low", "high"):
        assert getattr(got, key) == pytest.approx(case[key], rel=REL), key


def test_one_seed_has_no_interval():
    got = mean_interval([71.3])
    assert got.mean == 71.3 and math.isnan(got.std) and math.isnan(got.low) and math.isnan(got.high)


@pytest.mark.parametrize("name", sorted(V["differences"]))
def test_difference_interval(name):
    case = V["differences"][name]
    got = difference_interval(case["a"], case["b"])
    for key in ("value", "low", "high"):
        assert getattr(got, key) == pytest.approx(case[key], rel=REL), key


@pytest.mark.parametrize("name", sorted(V["holm"]))
def test_holm(name):
    case = V["holm"][name]
    got = holm({str(i): p for i, p in enumerate(case["p"])})
    assert [got[str(i)] for i in range(len(case["p"]))] == pytest.approx(case["adjusted"], rel=REL)


def test_holm_leaves_untestable_rows_out_of_the_family():
    got = holm({"a": 0.01, "b": float("nan"), "c": 0.02})
    assert got["a"] == pytest.approx(0.02) and got["c"] == pytest.approx(0.02) and math.isnan(got["b"])


@pytest.mark.parametrize("case", V["verdicts"], ids=lambda c: f"{c['kind']}-{c['low']}-{c['high']}")
def test_verdicts(case):
    diff = Difference(value=(case["low"] + case["high"]) / 2, low=case["low"], high=case["high"], p=0.01)
    if case["kind"] == "within":
        assert verdict(diff, "within", margin=case["bound"]) == case["verdict"]
    else:
        assert verdict(diff, "beats", by=case["bound"]) == case["verdict"]


def test_no_interval_is_not_shown():
    assert verdict(difference_interval([1.0], [0.0])) == NOT_SHOWN
    assert {HOLDS, NOT_SHOWN, CONTRADICTED} == {"holds", "not shown", "contradicted"}
