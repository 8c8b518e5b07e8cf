"""Change attribution compares like with like: a shift of the backend mix is not an effect."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clamp.telemetry.aggregator import TemporalAggregator
from clamp.telemetry.models import Change
from clamp.telemetry.stats import welch_interval
from clamp.telemetry.stratified import MIN_P95_SAMPLE, Side, compare, verdict

from .conftest import DIGESTS

# Per backend: (mean stability, mean duration ms). cpu runs are far less stable and slower.
BASE = {"hip": (0.95, 20.0), "cpu": (0.75, 60.0), "vulkan": (0.5, 5.0)}


def _records(rng: random.Random, day: int, mix: dict[str, int],
             effect: tuple[float, float]) -> list[dict[str, Any]]:
    out = []
    i = 0
    for backend, count in mix.items():
        stab, dur = BASE[backend]
        for _ in range(count):
            second = i % 3600
            out.append({
                "seed": 1 + i, "context": "k", "thread_id": 0,
                "acquired_at": f"2025-01-0{day}T{second // 60 // 60:02d}:{second // 60 % 60:02d}"
                               f":{second % 60:02d}Z",
                "released_at": f"2025-01-0{day}T23:59:59Z",
                "duration_ms": round(rng.lognormvariate(0, 0.2) * (dur + effect[1]), 3),
                "stability_score": round(min(1, max(0, rng.gauss(stab + effect[0], 0.02))), 5),
                "backend": backend, "deviceName": "gfx90a"})
            i += 1
    return out


def _changes(make_root: Callable[..., Path], effect: tuple[float, float],
             before: dict[str, int], after: dict[str, int], seed: int = 7) -> Change:
    rng = random.Random(seed)
    root = make_root({
        "a.json": {"backend": "hip", "deviceName": "gfx90a", "image_digest": DIGESTS[0],
                   "records": _records(rng, 1, before, (0.0, 0.0))},
        "b.json": {"backend": "hip", "deviceName": "gfx90a", "image_digest": DIGESTS[1],
                   "records": _records(rng, 2, after, effect)}})
    (change,) = TemporalAggregator(window="1d").accumulate(root).changes
    return change


MIX_BEFORE = {"hip": 270, "cpu": 30}
MIX_AFTER = {"hip": 30, "cpu": 270}


def test_mix_shift_alone_is_no_evidence(make_root: Callable[..., Path]) -> None:
    change = _changes(make_root, (0.0, 0.0), MIX_BEFORE, MIX_AFTER)
    # The naive comparison is fooled: stability "drops" by ~0.16 and p95 "rises".
    naive = change.meanStabilityShiftCI
    assert naive is not None and naive[1] < -0.1
    assert change.p95DurationShiftCI is not None and change.p95DurationShiftCI[0] > 0
    # Within each backend nothing changed.
    assert change.verdict == "no evidence" and not change.significant
    ci = change.adjustedMeanStabilityShiftCI
    assert ci is not None and ci[0] < 0 < ci[1]
    p95 = change.adjustedP95DurationShiftCI
    assert p95 is not None and p95[0] < 0 < p95[1]
    assert change.comparedShare == 1.0 and change.mixShift == pytest.approx(0.8)
    assert {(s.backend, s.recordsBefore, s.recordsAfter) for s in change.strata} == {
        ("cpu", 30, 270), ("hip", 270, 30)}


def test_a_real_effect_under_the_same_mix_shift_is_found(make_root: Callable[..., Path]) -> None:
    change = _changes(make_root, (-0.02, 20.0), MIX_BEFORE, MIX_AFTER)
    assert change.verdict == "regressed" and change.significant
    ci = change.adjustedMeanStabilityShiftCI
    assert ci is not None and ci[0] <= -0.02 <= ci[1] < 0
    assert change.adjustedMeanStabilityShift == pytest.approx(-0.02, abs=0.006)
    p95 = change.adjustedP95DurationShiftCI
    assert p95 is not None and p95[0] > 0


def test_an_improvement_is_improved(make_root: Callable[..., Path]) -> None:
    change = _changes(make_root, (0.03, -5.0), MIX_BEFORE, MIX_BEFORE)
    assert change.verdict == "improved" and change.mixShift == 0.0


def test_one_stratum_is_exactly_the_plain_comparison(make_root: Callable[..., Path]) -> None:
    change = _changes(make_root, (-0.01, 0.0), {"hip": 200}, {"hip": 180})
    assert change.adjustedMeanStabilityShift == pytest.approx(change.meanStabilityShift)
    assert change.adjustedMeanStabilityShiftCI == pytest.approx(change.meanStabilityShiftCI)
    assert change.adjustedP95DurationShift == pytest.approx(change.p95DurationShift)


def test_disjoint_mix_cannot_be_compared(make_root: Callable[..., Path]) -> None:
    change = _changes(make_root, (0.0, 0.0), {"hip": 100}, {"cpu": 100})
    assert change.meanStabilityShiftCI is not None and change.meanStabilityShiftCI[1] < 0
    assert change.verdict == "no evidence" and change.comparedShare == 0.0
    assert change.mixShift == 1.0 and change.adjustedMeanStabilityShift is None
    assert all(s.weight == 0.0 for s in change.strata)


def test_combination_matches_a_direct_computation() -> None:
    def around(centre: float) -> list[float]:  # MIN_P95_SAMPLE durations: enough for a p95
        return [centre + (k - MIN_P95_SAMPLE // 2) / 10 for k in range(MIN_P95_SAMPLE)]

    before = {("hip", "a"): Side(10, 0.9, 0.0004, 20.0, around(20.0)),
              ("cpu", "a"): Side(40, 0.7, 0.0009, 60.0, around(60.0))}
    after = {("hip", "a"): Side(30, 0.88, 0.0004, 22.0, around(22.0)),
             ("cpu", "a"): Side(20, 0.69, 0.0016, 61.0, around(61.0)),
             ("cpu", "b"): Side(5, 0.1, 0.01, 99.0, [98.0, 99.0])}
    adj = compare(before, after, seed_key="x")
    w_hip, w_cpu = 10 * 30 / 40, 40 * 20 / 60
    total = w_hip + w_cpu
    expected = (w_hip * -0.02 + w_cpu * -0.01) / total
    assert adj.mean_shift == pytest.approx(expected)
    se = ((w_hip / total) ** 2 * (0.0004 / 10 + 0.0004 / 30)
          + (w_cpu / total) ** 2 * (0.0009 / 40 + 0.0016 / 20)) ** 0.5
    assert adj.mean_ci is not None
    half = (adj.mean_ci[1] - adj.mean_ci[0]) / 2
    assert 1.96 * se < half < 2.1 * se  # a t quantile a little above the normal one
    assert adj.p95_shift == pytest.approx((w_hip * 2.0 + w_cpu * 1.0) / total)
    assert adj.compared_share == pytest.approx(100 / 105)
    # One stratum alone: the Welch interval itself.
    single = compare({("hip", "a"): before[("hip", "a")]}, {("hip", "a"): after[("hip", "a")]},
                     seed_key="x")
    assert single.mean_ci == pytest.approx(welch_interval(10, 0.9, 0.0004, 30, 0.88, 0.0004))


def test_verdict_reads_the_direction() -> None:
    assert verdict([-0.2, -0.1], None) == "regressed"
    assert verdict(None, [1.0, 2.0]) == "regressed"
    assert verdict([0.1, 0.2], [-2.0, -1.0]) == "improved"
    assert verdict([0.1, 0.2], [1.0, 2.0]) == "regressed"  # slower outweighs steadier
    assert verdict([-0.1, 0.1], [-1.0, 1.0]) == "no evidence"
    assert verdict(None, None) == "no evidence"


def test_a_stray_record_does_not_void_the_comparison(make_root: Callable[..., Path]) -> None:
    change = _changes(make_root, (-0.02, 20.0), {**MIX_BEFORE, "vulkan": 1},
                      {**MIX_AFTER, "vulkan": 3})
    assert change.verdict == "regressed" and change.adjustedMeanStabilityShiftCI is not None
    stray = next(s for s in change.strata if s.backend == "vulkan")
    assert stray.weight == 0.0 and (stray.recordsBefore, stray.recordsAfter) == (1, 3)
    assert change.comparedShare is not None and change.comparedShare < 1.0


def test_same_data_same_intervals(make_root: Callable[..., Path], tmp_path: Path) -> None:
    first = _changes(make_root, (0.0, 0.0), MIX_BEFORE, MIX_AFTER)
    (again,) = TemporalAggregator(window="1d").accumulate(tmp_path / "root").changes
    assert again.adjustedP95DurationShiftCI == first.adjustedP95DurationShiftCI


def test_report_and_job_summary_show_the_like_with_like_verdict(
        make_root: Callable[..., Path], tmp_path: Path) -> None:
    from clamp.telemetry.html_report import render_html
    from clamp.telemetry.job_summary import markdown

    _changes(make_root, (0.0, 0.0), MIX_BEFORE, MIX_AFTER)
    summary = TemporalAggregator(window="1d").accumulate(tmp_path / "root")
    html, md = render_html(summary), markdown(summary)
    assert 'class="badge muted">no evidence' in html and ">regressed<" not in html
    assert "⚪ no evidence" in md and "regressed" not in md


def test_records_without_a_duration_around_a_change(make_root: Callable[..., Path]) -> None:
    """A valid record may lack duration_ms (the origin's rules): it counts in the means and
    stays out of the p95 samples (a None in a sample used to crash the sort)."""
    rng = random.Random(3)
    # Each stratum keeps MIN_P95_SAMPLE durations a side after half of them are dropped.
    mix_before, mix_after = {"hip": 240, "cpu": 60}, {"hip": 60, "cpu": 240}
    before, after = _records(rng, 1, mix_before, (0.0, 0.0)), _records(rng, 2, mix_after,
                                                                        (0.0, 0.0))
    for i, rec in enumerate(before + after):
        if i % 2:
            del rec["duration_ms"]
    root = make_root({
        "a.json": {"backend": "hip", "deviceName": "gfx90a", "image_digest": DIGESTS[0],
                   "records": before},
        "b.json": {"backend": "hip", "deviceName": "gfx90a", "image_digest": DIGESTS[1],
                   "records": after}})
    (change,) = TemporalAggregator(window="1d").accumulate(root).changes
    assert (change.recordsBefore, change.recordsAfter) == (300, 300)
    assert change.p95DurationShiftCI is not None and change.adjustedP95DurationShiftCI is not None
    for rec in before + after:
        rec.pop("duration_ms", None)
    root = make_root({
        "a.json": {"backend": "hip", "deviceName": "gfx90a", "image_digest": DIGESTS[0],
                   "records": before},
        "b.json": {"backend": "hip", "deviceName": "gfx90a", "image_digest": DIGESTS[1],
                   "records": after}})
    (change,) = TemporalAggregator(window="1d").accumulate(root).changes
    assert change.p95DurationShiftCI is None and change.adjustedP95DurationShiftCI is None
    assert change.adjustedMeanStabilityShiftCI is not None
