"""Change attribution: tie a stability shift to the image change that came with it.

Windows are ordered in time; each window's image is the digest that ran most of its valid records.
Where two consecutive windows (with data) ran different known digests, the records of the earlier
window's image are compared with the later window's: the shift in mean stability gets a Welch
interval (exact from SQL aggregates, however many records), and the shift in p95 duration a
percentile-bootstrap interval on a deterministic sample of up to ~400 durations per side, drawn
for all changes in one scan, which keeps the cost flat at millions of records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING

from clamp.telemetry import queries, stratified
from clamp.telemetry.models import Change
from clamp.telemetry.stats import bootstrap_quantile_shift, welch_interval
from clamp.telemetry.summary_cache import SummaryCache

if TYPE_CHECKING:
    import duckdb

SAMPLE = stratified.SAMPLE  # durations per side for the p95 bootstrap
ROUNDS = 200  # bootstrap resamples


def dominant_digests(grouped: queries.Grouped) -> dict[datetime, str | None]:
    """The digest with most valid records in each window (ties: the smaller digest)."""
    best: dict[datetime, tuple[int, str | None]] = {}
    for (window, digest), row in grouped.window_digest.items():
        current = best.get(window)
        if (current is None or row.n > current[0]
                or (row.n == current[0] and (digest or "") < (current[1] or ""))):
            best[window] = (row.n, digest)
    return {w: d for w, (_, d) in sorted(best.items())}


def _samples(strata: dict[tuple[int, str], dict[stratified.Stratum, stratified.Side]]
             ) -> dict[tuple[int, str], list[float]]:
    """Up to ~SAMPLE durations for each wanted (window, digest), from the like-with-like scan.

    Rows are kept by a hash of the record's own content (time, position in its session,
    duration, stability) modulo ceil(n / SAMPLE): it depends on the session data alone, so the
    same files give the same intervals whatever order they were ingested in or ids the store
    gave them (a hash of the store's file ids let `significant` flip between stores built from
    the same files). `stratified.side_stats` keeps the same rows with the same modulus, split
    by stratum, so the plain comparison's sample is the union of its strata's: no second scan.
    """
    return {key: [d for side in sides.values() for d in side.sample]
            for key, sides in strata.items()}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 9)


@dataclass(frozen=True)
class Sides:
    """What the attribution reads from the store: the image changes between consecutive
    windows (before window, after window, before digest, after digest) and the like-with-like
    sides of their windows (see `stratified.side_stats`)."""

    pairs: list[tuple[datetime, datetime, str, str]]
    strata: dict[tuple[int, str], dict[stratified.Stratum, stratified.Side]]


def sides(con: duckdb.DuckDBPyConnection, width_us: int, grouped: queries.Grouped,
          cache: SummaryCache | None = None) -> Sides:
    """The store's part of the attribution (one scan, or the `cache`'s sides): everything
    `changes` needs, so that the store can be written and closed while it runs."""
    dominant = dominant_digests(grouped)
    pairs: list[tuple[datetime, datetime, str, str]] = []
    for bw, aw in pairwise(dominant):
        db, da = dominant[bw], dominant[aw]
        if db is not None and da is not None and db != da:
            pairs.append((bw, aw, db, da))
    wanted = {(w, d, grouped.window_digest[(w, d)].n)
              for bw, aw, db, da in pairs for w, d in ((bw, db), (aw, da))}
    return Sides(pairs, stratified.side_stats(con, width_us, sorted(wanted), cache))


def changes(width_us: int, grouped: queries.Grouped, status_of: dict[str | None, str],
            found: Sides) -> list[Change]:
    """Every image change between consecutive windows, with its shifts and intervals, from
    what `sides` read (pure Python: no store access)."""
    pairs, strata = found.pairs, found.strata
    samples = _samples(strata)
    out: list[Change] = []
    for before_w, after_w, d_before, d_after in pairs:
        b = grouped.window_digest[(before_w, d_before)]
        a = grouped.window_digest[(after_w, d_after)]
        mean_shift = (a.mean - b.mean) if a.mean is not None and b.mean is not None else None
        p95_shift = (a.p95 - b.p95) if a.p95 is not None and b.p95 is not None else None
        mean_ci = welch_interval(b.n, b.mean or 0.0, b.var or 0.0, a.n, a.mean or 0.0,
                                 a.var or 0.0)
        sample_b = sorted(samples.get((queries.bucket_of(before_w, width_us), d_before), []))
        sample_a = sorted(samples.get((queries.bucket_of(after_w, width_us), d_after), []))
        p95_ci = bootstrap_quantile_shift(sample_b, sample_a, rounds=ROUNDS, seed=len(out))
        significant = any(ci is not None and (ci[0] > 0 or ci[1] < 0)
                          for ci in (mean_ci, p95_ci))
        out.append(Change(
            windowBefore=before_w.isoformat() + "Z", windowAfter=after_w.isoformat() + "Z",
            digestBefore=d_before, digestAfter=d_after,
            trustBefore=status_of.get(d_before, "unknown"),
            trustAfter=status_of.get(d_after, "unknown"),
            recordsBefore=b.n, recordsAfter=a.n,
            meanStabilityBefore=_round(b.mean), meanStabilityAfter=_round(a.mean),
            meanStabilityShift=_round(mean_shift),
            meanStabilityShiftCI=[_round(x) or 0.0 for x in mean_ci] if mean_ci else None,
            p95DurationBefore=_round(b.p95), p95DurationAfter=_round(a.p95),
            p95DurationShift=_round(p95_shift),
            p95DurationShiftCI=[_round(x) or 0.0 for x in p95_ci] if p95_ci else None,
            significant=significant,
            **stratified.change_fields(strata, width_us, before_w, after_w, d_before, d_after)))
    for change in out:  # the verdict reads the like-with-like intervals, not the naive ones
        change.significant = change.verdict != "no evidence"
    return out

