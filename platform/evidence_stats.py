"""The statistics an evidence table reports over seeds, and the verdict on a paper's claim.

- ``mean_interval``: mean, sample std (ddof 1) and the two-sided t interval
  ``mean ± t_{1-a/2, n-1} s / sqrt(n)`` (95% by default); no interval from one seed.
- ``difference_interval``: the difference of two rows' means with Welch's interval
  ``d ± t_{1-a/2, df} sqrt(va/na + vb/nb)``, df from the Welch–Satterthwaite equation
  (the same df and p as ``welch_test.welch_t_test``).
- ``holm``: Holm's step-down adjustment of a family of p-values (the table's rows
  against its baseline): sorted ascending, ``p_(i) * (m - i + 1)`` (i from 1), made
  monotone and capped at 1; untestable (nan) p-values stay nan and do not count in m.
- ``verdict``: what the numbers say of a claim. ``beats`` (row better than another by
  at least ``by``): ``holds`` when the interval of the difference lies above ``by``,
  ``contradicted`` when it lies below 0 (significantly the other way), else ``not
  shown``. ``within`` (two rows within ``margin`` of each other): ``holds`` when the
  interval lies inside (-margin, margin), ``contradicted`` when it lies wholly outside,
  else ``not shown``. A difference without an interval (fewer than two seeds a row, or
  no spread) is ``not shown``."""
import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

from scipy.special import stdtrit

from platform.welch_test import welch_t_test

LEVEL = 0.95
HOLDS, NOT_SHOWN, CONTRADICTED = "holds", "not shown", "contradicted"
NAN = float("nan")


@dataclass
class Interval:
    n: int
    mean: float
    std: float            # nan for n < 2
    low: float            # nan when there is no interval
    high: float


@dataclass
class Difference:
    value: float          # mean(a) - mean(b)
    low: float
    high: float
    p: float              # Welch's two-sided p; nan when untestable


def t_quantile(df: float, level: float = LEVEL) -> float:
    return float(stdtrit(df, 0.5 + level / 2.0))


def mean_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    values = [float(v) for v in values]
    n = len(values)
    if n == 0:
        return Interval(0, NAN, NAN, NAN, NAN)
    mean = math.fsum(values) / n
    if n < 2:
        return Interval(n, mean, NAN, NAN, NAN)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(n - 1, level) * std / math.sqrt(n)
    return Interval(n, mean, std, mean - half, mean + half)


def difference_interval(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> Difference:
    a, b = [float(v) for v in a], [float(v) for v in b]
    if not a or not b:
        return Difference(NAN, NAN, NAN, NAN)
    value = math.fsum(a) / len(a) - math.fsum(b) / len(b)
    _, df, p = welch_t_test(a, b)
    if math.isnan(df):
        return Difference(value, NAN, NAN, NAN)
    half = t_quantile(df, level) * math.sqrt(_variance(a) / len(a) + _variance(b) / len(b))
    return Difference(value, value - half, value + half, p)


def _variance(x: Sequence[float]) -> float:
    mean = math.fsum(x) / len(x)
    return math.fsum((v - mean) ** 2 for v in x) / (len(x) - 1)


def holm(p_values: Dict[str, float]) -> Dict[str, float]:
    """Holm-adjusted p-values; nan stays nan and is not one of the m tests."""
    tested = sorted(((p, k) for k, p in p_values.items() if p is not None and not math.isnan(p)))
    m = len(tested)
    adjusted, running = {}, 0.0
    for i, (p, key) in enumerate(tested):
        running = max(running, min(1.0, (m - i) * p))
        adjusted[key] = running
    return {k: adjusted.get(k, NAN) for k in p_values}


def verdict(difference: Difference, kind: str = "beats", by: float = 0.0, margin: Optional[float] = None) -> str:
    low, high = difference.low, difference.high
    if math.isnan(low) or math.isnan(high):
        return NOT_SHOWN
    if kind == "within":
        if margin is None:
            raise ValueError("a 'within' claim needs a margin")
        if -margin < low and high < margin:
            return HOLDS
        if low >= margin or high <= -margin:
            return CONTRADICTED
        return NOT_SHOWN
    if low > by:
        return HOLDS
    if high < 0.0:
        return CONTRADICTED
    return NOT_SHOWN
