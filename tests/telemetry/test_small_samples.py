"""A change seen through too few records gets no verdict (issue 18's "no evidence").

The percentile bootstrap of a p95 cannot see the tail it estimates when a side holds a handful of
durations: drawn from one and the same distribution, 2 durations a side gave an interval that
excluded zero in 35% of trials, 5 in 20% and 10 in 14%, against the 5% a 95% interval promises
(20 a side: 6%). So a stratum enters the p95 comparison only with `MIN_P95_SAMPLE` sampled
durations a side, and a verdict needs `MIN_VERDICT_RECORDS` compared records a side."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from pathlib import Path

from clamp.telemetry.aggregator import TemporalAggregator
from clamp.telemetry.models import MIN_VERDICT_RECORDS
from clamp.telemetry.stats import quantile_linear
from clamp.telemetry.stratified import MIN_P95_SAMPLE, Side, compare, verdict

from .test_stratified import _changes


def _side(rng: random.Random, n: int) -> Side:
    durations = sorted(rng.lognormvariate(3.0, 0.3) for _ in range(n))
    scores = [min(1.0, max(0.0, rng.gauss(0.9, 0.02))) for _ in range(n)]
    return Side(n, statistics.fmean(scores), statistics.variance(scores),
                quantile_linear(durations, 0.95), durations)


def test_no_change_reads_as_no_evidence_at_small_sizes() -> None:
    """The null case: both sides from the same distribution. Before the floor, 5 records a
    side gave a verdict in about a fifth of the trials."""
    rng = random.Random(1)
    for n in (2, 5, 10):
        found = 0
        for trial in range(200):
            adj = compare({("hip", "g"): _side(rng, n)}, {("hip", "g"): _side(rng, n)},
                          seed_key=str(trial))
            assert adj.p95_ci is None and adj.p95_shift is None  # below the p95 floor
            found += verdict(list(adj.mean_ci) if adj.mean_ci else None, None) != "no evidence"
        assert found <= 200 * 0.08, (n, found)


def test_p95_is_compared_from_the_floor_on() -> None:
    rng = random.Random(2)
    small = compare({("hip", "g"): _side(rng, MIN_P95_SAMPLE - 1)},
                    {("hip", "g"): _side(rng, 300)}, seed_key="x")
    assert small.p95_ci is None and small.mean_ci is not None
    enough = compare({("hip", "g"): _side(rng, MIN_P95_SAMPLE)},
                     {("hip", "g"): _side(rng, MIN_P95_SAMPLE)}, seed_key="x")
    assert enough.p95_ci is not None and enough.p95_shift is not None


def test_a_change_with_too_few_records_says_no_evidence(
        make_root: Callable[..., Path]) -> None:
    # Two records a side and a large drop: the intervals are shown, the verdict is withheld.
    change = _changes(make_root, (-0.3, 40.0), {"hip": 2}, {"hip": 2})
    assert change.verdict == "no evidence" and not change.significant
    assert change.adjustedMeanStabilityShiftCI is not None
    assert change.compared_records() == (2, 2)
    # The same drop seen through enough records is a regression.
    change = _changes(make_root, (-0.3, 40.0), {"hip": MIN_VERDICT_RECORDS},
                      {"hip": MIN_VERDICT_RECORDS})
    assert change.verdict == "regressed"


def test_zero_variance_sides_of_a_few_records_are_no_verdict(
        make_root: Callable[..., Path]) -> None:
    """Two records of 1.0 against two of 0.95: a zero-width interval, a certainty that four
    records cannot give."""
    root = make_root({
        "a.json": {"backend": "hip", "deviceName": "g", "image_digest": "sha256:" + "a" * 64,
                   "records": [{"stability_score": 1.0, "seed": 1 + i,
                                "acquired_at": f"2025-01-01T00:00:0{i}Z"} for i in range(2)]},
        "b.json": {"backend": "hip", "deviceName": "g", "image_digest": "sha256:" + "b" * 64,
                   "records": [{"stability_score": 0.95, "seed": 1 + i,
                                "acquired_at": f"2025-01-02T00:00:0{i}Z"} for i in range(2)]}})
    (change,) = TemporalAggregator(window="1d").accumulate(root).changes
    assert change.adjustedMeanStabilityShiftCI == [-0.05, -0.05]
    assert change.verdict == "no evidence"


def test_the_views_say_why_there_is_no_verdict(make_root: Callable[..., Path],
                                               tmp_path: Path) -> None:
    import os

    from rich.console import Console

    from clamp.telemetry.html_report import render_html
    from clamp.telemetry.inspect_view import render
    from clamp.telemetry.job_summary import markdown

    _changes(make_root, (-0.3, 40.0), {"hip": 2}, {"hip": 2})
    summary = TemporalAggregator(window="1d").accumulate(tmp_path / "root")
    note = "too few records for a verdict (2 before, 2 after; 20 a side needed)"
    assert note in render_html(summary) and note in markdown(summary)
    assert "⚪ no evidence: too few records" in markdown(summary)
    for width in (80, 160):
        with open(os.devnull, "w") as sink:
            console = Console(width=width, record=True, color_system=None, file=sink)
            render(summary, console)
        assert "too few records" in console.export_text()


def test_nothing_compared_is_not_called_too_few(make_root: Callable[..., Path]) -> None:
    change = _changes(make_root, (0.0, 0.0), {"hip": 100}, {"cpu": 100})
    assert change.verdict == "no evidence" and change.compared_records() == (0, 0)
    assert not change.too_few_records()
