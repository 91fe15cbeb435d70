"""Welch's unequal-variance t-test, the test an ablation table marks its cells with.

Seeds of two ablation rows are independent runs whose spread need not match
(a collapsing variant such as K = 2 scatters far more than the baseline), so the
pooled-variance Student test would be wrong; Welch's test does not assume equal
variances and takes its degrees of freedom from the Welch–Satterthwaite equation.
"""
import math
from typing import Sequence, Tuple

from scipy.special import stdtr

NAN = float("nan")


def _mean_var(values: Sequence[float]) -> Tuple[float, float]:
    n = len(values)
    mean = math.fsum(values) / n
    return mean, math.fsum((v - mean) ** 2 for v in values) / (n - 1)


def welch_t_test(a: Sequence[float], b: Sequence[float]) -> Tuple[float, float, float]:
    """``(t, df, p)`` of the two-sided Welch test of mean(a) == mean(b).

    ``t = (mean_a - mean_b) / sqrt(va/na + vb/nb)`` with sample variances (ddof 1),
    ``df = (va/na + vb/nb)^2 / ((va/na)^2/(na-1) + (vb/nb)^2/(nb-1))``,
    ``p = 2 * P(T_df <= -|t|)``; the same numbers as
    ``scipy.stats.ttest_ind(a, b, equal_var=False)``.

    No test is possible, and all three are nan, when either sample has fewer than
    two values (no variance estimate) or both variances are 0. The latter covers
    identical constant samples (t would be 0/0) and also two different constant
    samples (t would be infinite on a t distribution with undefined df): with no
    spread there is nothing to judge a difference against. Callers treat nan as
    "not testable", hence never significant.
    """
    a = [float(v) for v in a]
    b = [float(v) for v in b]
    if len(a) < 2 or len(b) < 2:
        return NAN, NAN, NAN
    mean_a, var_a = _mean_var(a)
    mean_b, var_b = _mean_var(b)
    sa, sb = var_a / len(a), var_b / len(b)
    if sa + sb == 0.0:
        return NAN, NAN, NAN
    t = (mean_a - mean_b) / math.sqrt(sa + sb)
    df = (sa + sb) ** 2 / (sa ** 2 / (len(a) - 1) + sb ** 2 / (len(b) - 1))
    # stdtr is the Student t CDF; the lower tail at -|t| avoids 1 - cdf cancellation
    p = 2.0 * float(stdtr(df, -abs(t)))
    return t, df, min(p, 1.0)
