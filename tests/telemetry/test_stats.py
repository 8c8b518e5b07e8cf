"""Statistics helpers against independent computations and published table values."""

from __future__ import annotations

import statistics
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clamp.telemetry import breakdowns
from clamp.telemetry.stats import (
    Moments,
    bootstrap_quantile_shift,
    quantile_linear,
    t_quantile,
    welch_interval,
)

finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(st.lists(finite, min_size=2, max_size=60))
def test_quantile_matches_statistics_inclusive(values: list[float]) -> None:
    # statistics.quantiles(method="inclusive") is numpy's linear method at cut points.
    expected = statistics.quantiles(values, n=100, method="inclusive")[94]
    assert quantile_linear(values, 0.95) == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_quantile_small_cases() -> None:
    assert quantile_linear([5.0], 0.95) == 5.0
    assert quantile_linear([1.0, 2.0], 0.95) == pytest.approx(1.95)
    assert quantile_linear(list(map(float, range(1, 21))), 0.95) == pytest.approx(19.05)


@pytest.mark.parametrize(("df", "expected"), [(1, 12.706), (2, 4.303), (3, 3.182), (5, 2.571),
                                              (10, 2.228), (30, 2.042), (1000, 1.962),
                                              (4, 2.776), (7, 2.365), (8, 2.306)])
def test_t_quantile_table(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-3)


def test_welch_interval_covers_difference_and_is_symmetric() -> None:
    lo, hi = welch_interval(10, 1.0, 0.04, 12, 1.5, 0.09) or (0, 0)
    assert lo < 0.5 < hi and (0.5 - lo) == pytest.approx(hi - 0.5)
    assert welch_interval(1, 1.0, 0.0, 5, 1.0, 0.1) is None


def test_bootstrap_is_deterministic_and_brackets_a_clear_shift() -> None:
    before = [float(i) for i in range(100)]
    after = [float(i) + 50 for i in range(100)]
    ci = bootstrap_quantile_shift(before, after, seed=3)
    assert ci == bootstrap_quantile_shift(before, after, seed=3)
    assert ci is not None and ci[0] <= 50 <= ci[1] and ci[0] > 0


def test_resampled_quantile_has_the_distribution_of_a_real_resample() -> None:
    """The order-statistic shortcut draws what sorting an actual resample would give."""
    import random
    import statistics

    from clamp.telemetry.stats import quantile_linear, resampled_quantile

    base = random.Random(7)
    ordered = sorted(base.expovariate(1 / 40) for _ in range(60))
    rng_fast, rng_slow = random.Random(1), random.Random(2)
    fast = [resampled_quantile(ordered, 0.95, rng_fast) for _ in range(6000)]
    slow = [quantile_linear(rng_slow.choices(ordered, k=len(ordered)), 0.95)
            for _ in range(6000)]
    spread = statistics.stdev(slow)
    assert abs(statistics.mean(fast) - statistics.mean(slow)) < 0.1 * spread
    assert statistics.stdev(fast) == pytest.approx(spread, rel=0.08)
    for q in (0.1, 0.5, 0.9):
        assert abs(quantile_linear(fast, q) - quantile_linear(slow, q)) < 0.15 * spread
    # Both only ever return interpolations between values of the sample.
    assert min(fast) >= ordered[0] and max(fast) <= ordered[-1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 50), st.floats(-1e3, 1e3), st.floats(0, 1e3)),
                min_size=2, max_size=30))
def test_breakdown_merge_is_moments_bit_for_bit(parts: list[tuple[int, float, float]]) -> None:
    """`breakdowns._merge` writes `Moments.add` out for speed: the same figures exactly."""
    moment = Moments()
    cells = []
    for i, (n, mean, var) in enumerate(parts):
        moment.add(n, mean, var if n > 1 else None)
        cells.append((i % 3, 0, None, None, n, mean, var if n > 1 else None,
                      datetime(2025, 1, 1), datetime(2025, 1, 2), None))
    n, sessions, mean, var, _, _ = breakdowns._merge(cells, list(range(len(cells))))
    assert (n, mean, var) == (moment.n, moment.mean, moment.variance)
    assert sessions == len({c[0] for c in cells})
