"""Small statistics the summary needs, without numpy or scipy.

- `quantile_linear`: numpy's default / DuckDB `quantile_cont` (linear between closest ranks), for
  Python-side checks and the bootstrap.
- `welch_interval`: a Welch t confidence interval for a difference of means, from n/mean/variance
  alone so it can be fed straight from SQL aggregates over millions of rows.
- `bootstrap_quantile_shift`: a percentile-bootstrap interval for a difference of p95s, seeded so
  the same inputs always give the same summary.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from statistics import NormalDist


def quantile_linear(values: Sequence[float], q: float) -> float:
    """The q-quantile with linear interpolation between closest ranks (numpy 'linear')."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def t_quantile(p: float, df: float) -> float:
    """Student t quantile: closed form for df 1 and 2, numeric inversion of the CDF below
    df 8 (where the series is too coarse), Cornish-Fisher expansion (A&S 26.7.5) above, which
    is accurate to about 1e-4 there.
    """
    if df <= 0 or not 0.0 < p < 1.0:
        raise ValueError("need df > 0 and 0 < p < 1")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    if df < 8:
        return _t_quantile_numeric(p, df)
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def _t_cdf_upper_half(t: float, df: float, steps: int = 2000) -> float:
    """P(0 <= T <= t) for t >= 0 by Simpson's rule on the density."""
    log_norm = (math.lgamma((df + 1) / 2) - math.lgamma(df / 2)
                - 0.5 * math.log(df * math.pi))

    def pdf(x: float) -> float:
        return math.exp(log_norm - (df + 1) / 2 * math.log1p(x * x / df))

    h = t / steps
    total = pdf(0.0) + pdf(t)
    for i in range(1, steps):
        total += (4 if i % 2 else 2) * pdf(i * h)
    return total * h / 3


def _t_quantile_numeric(p: float, df: float) -> float:
    target = abs(p - 0.5)
    lo, hi = 0.0, 1.0
    while _t_cdf_upper_half(hi, df) < target:
        hi *= 2
    for _ in range(50):
        mid = (lo + hi) / 2
        if _t_cdf_upper_half(mid, df) < target:
            lo = mid
        else:
            hi = mid
    return math.copysign((lo + hi) / 2, p - 0.5)


def welch_interval(n1: int, mean1: float, var1: float, n2: int, mean2: float, var2: float,
                   *, confidence: float = 0.95) -> tuple[float, float] | None:
    """CI for mean2 - mean1 (Welch); None when either side has fewer than two values."""
    if n1 < 2 or n2 < 2:
        return None
    a, b = var1 / n1, var2 / n2
    se = math.sqrt(a + b)
    diff = mean2 - mean1
    if se == 0:
        return (diff, diff)
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    t = t_quantile(0.5 + confidence / 2, df)
    return (diff - t * se, diff + t * se)


def bootstrap_quantile_shift(before: Sequence[float], after: Sequence[float], *, q: float = 0.95,
                             rounds: int = 400, confidence: float = 0.95,
                             seed: int = 0) -> tuple[float, float] | None:
    """Percentile-bootstrap CI for quantile(after) - quantile(before)."""
    if len(before) < 2 or len(after) < 2:
        return None
    rng = random.Random(seed)
    sb, sa = sorted(before), sorted(after)
    shifts = [resampled_quantile(sa, q, rng) - resampled_quantile(sb, q, rng)
              for _ in range(rounds)]
    tail = (1 - confidence) / 2
    return (quantile_linear(shifts, tail), quantile_linear(shifts, 1 - tail))


def resampled_quantile(ordered: Sequence[float], q: float, rng: random.Random) -> float:
    """The q-quantile (linear) of one bootstrap resample of `ordered` (sorted), drawn exactly
    without drawing the resample.

    A resample is n indices floor(U * n) of n uniforms U, and that map is monotone, so its k-th
    smallest value is ordered[floor(U_(k) * n)] for the k-th smallest uniform, which is
    Beta(k, n - k + 1); the next one up is U_(k) plus the minimum of the n - k uniforms above
    it. Two random draws instead of n, and no sort.
    """
    n = len(ordered)
    h = (n - 1) * q
    lo = math.floor(h)
    frac = h - lo
    k = lo + 1  # 1-based rank of the lower order statistic
    u = rng.betavariate(k, n - k + 1)
    low = ordered[min(n - 1, int(u * n))]
    if frac == 0 or k >= n:
        return low
    u_next = u + (1 - u) * (1 - rng.random() ** (1 / (n - k)))
    return low + frac * (ordered[min(n - 1, int(u_next * n))] - low)


class Moments:
    """Count, mean and sum of squared deviations of a group, built by merging sub-groups.

    Why: the summary's breakdowns share one scan of the records grouped by (session, window);
    each breakdown's mean and sample variance are then merged from those cells with Chan et
    al.'s pairwise update, which is exact up to rounding (no sum-of-squares cancellation).
    """

    __slots__ = ("m2", "mean", "n")

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, n: int, mean: float, variance: float | None) -> None:
        """Merge a sub-group of `n` values with this mean and sample variance."""
        if n <= 0:
            return
        m2 = variance * (n - 1) if variance is not None and n > 1 else 0.0
        if self.n == 0:
            self.n, self.mean, self.m2 = n, mean, m2
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total

    @property
    def variance(self) -> float | None:
        """Sample variance (n - 1 denominator), None below two values, like `var_samp`."""
        return self.m2 / (self.n - 1) if self.n > 1 else None
