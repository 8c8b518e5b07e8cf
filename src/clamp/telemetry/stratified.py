"""Like-with-like change attribution: compare an image change within each backend and device.

A fleet mixes backends (hip, opencl, cpu) and devices whose stability and durations differ far
more than any image does. When the mix shifts at an image change — more cpu runs after it, say —
the plain before/after comparison reads the shift of the mix as the image's effect. So each
change is also compared stratum by stratum, (backend, device) being a stratum, and the
per-stratum shifts are combined with Cochran–Mantel–Haenszel weights n_b·n_a/(n_b + n_a): a
stratum counts in proportion to how much it can tell, and one seen on only one side of the
change cannot be compared at all and is left out (`comparedShare` says how much was compared).

- mean stability: the weighted sum of per-stratum Welch differences, its standard error from the
  per-stratum variances, degrees of freedom by Welch–Satterthwaite over all the terms;
- p95 duration: the weighted sum of per-stratum p95 shifts (exact, from SQL), its interval from a
  stratified percentile bootstrap of a deterministic hash-thinned sample per stratum, seeded from
  the change itself so the same data always gives the same interval.

With one stratum on both sides the result is exactly the plain comparison.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from clamp.telemetry import queries
from clamp.telemetry.models import MIN_VERDICT_RECORDS, StratumShift
from clamp.telemetry.stats import quantile_linear, resampled_quantile, t_quantile
from clamp.telemetry.summary_cache import SummaryCache

if TYPE_CHECKING:
    import duckdb

SAMPLE = 400  # durations per (window, digest) side, shared out among its strata
ROUNDS = 200
#: Sampled durations a side a stratum needs to enter the p95 comparison: below it the percentile
#: bootstrap cannot see the tail it estimates (with 5 a side, an interval excluded zero in ~20%
#: of no-change trials instead of 5%; tests/telemetry/test_small_samples.py).
MIN_P95_SAMPLE = 20
Stratum = tuple[str | None, str | None]  # (backend, device)


@dataclass
class Side:
    """One stratum's records on one side of a change."""

    n: int
    mean: float
    var: float | None
    p95: float | None
    sample: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Adjusted:
    """The like-with-like comparison of one change."""

    mean_shift: float | None
    mean_ci: tuple[float, float] | None
    p95_shift: float | None
    p95_ci: tuple[float, float] | None
    compared_share: float
    mix_shift: float
    strata: list[tuple[Stratum, Side | None, Side | None, float]]  # weight 0 when not compared


def side_stats(con: duckdb.DuckDBPyConnection, width_us: int,
               wanted: list[tuple[datetime, str, int]], cache: SummaryCache | None = None
               ) -> dict[tuple[int, str], dict[Stratum, Side]]:
    """Per (window bucket, digest): each stratum's n, mean, variance, p95 and thinned sample of
    durations, in one scan of the records of the wanted windows. A valid record may have no
    duration (the origin's rules): it counts in n and the mean, never in the sample.

    With a valid `cache` (see `summary_cache`), a side that gained no records and was computed
    last time for the same record count is read from it; every side goes back into it."""
    if not wanted:
        return {}
    rows: list[tuple[Any, ...]] = []
    if cache is not None and cache.valid:
        ask = []
        cached: dict[tuple[int, str, int], list[tuple[Any, ...]]] = {}
        for row in cache.strata:
            cached.setdefault((row[0], row[1], row[2]), []).append(row)
        for start, digest, n in wanted:
            side = (queries.bucket_of(start, width_us), digest)
            found = cached.get((*side, n))
            if side in cache.touched_sides or found is None:
                ask.append((start, digest, n))
            else:
                rows += found
        wanted = ask
    if wanted:
        sizes = {(queries.bucket_of(start, width_us), d): n for start, d, n in wanted}
        params = queries.wanted_params(width_us, wanted, SAMPLE)
        rows += [(w, digest, sizes[(w, digest)], *rest)
                 for w, digest, *rest in con.execute(_SIDES, params).fetchall()]
    out: dict[tuple[int, str], dict[Stratum, Side]] = {}
    for w, digest, _, backend, device, n, mean, var, p95, sample in rows:
        var, p95 = queries.clean([var, p95])
        out.setdefault((w, digest), {})[(backend, device)] = Side(
            n, mean, var, p95, sorted(sample or []))
    if cache is not None:
        cache.computed_strata = rows
    return out


_SIDES = f"""
WITH wanted AS (SELECT unnest($2::BIGINT[]) AS w, unnest($3::VARCHAR[]) AS digest,
                       unnest($4::UBIGINT[]) AS m)
SELECT r.w, s.digest, {queries.BACKEND} AS backend, {queries.DEVICE} AS device,
       count(*), avg(r.stability), var_samp(r.stability),
       quantile_cont(r.duration_ms, 0.95),
       list(r.duration_ms) FILTER (WHERE {queries.SAMPLE_HASH} % x.m = 0
                                   AND r.duration_ms IS NOT NULL)
FROM {queries.VALID} JOIN wanted AS x ON x.w = r.w AND x.digest = s.digest
GROUP BY ALL"""


def _seed(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def compare(before: dict[Stratum, Side], after: dict[Stratum, Side], *, seed_key: str,
            confidence: float = 0.95) -> Adjusted:
    """Combine the per-stratum comparisons of one change (see the module docstring)."""
    strata = sorted(set(before) | set(after), key=lambda s: (s[0] or "", s[1] or ""))
    total_b = sum(s.n for s in before.values())
    total_a = sum(s.n for s in after.values())
    mix = 0.5 * sum(abs((before[s].n / total_b if s in before and total_b else 0.0)
                        - (after[s].n / total_a if s in after and total_a else 0.0))
                    for s in strata)
    # Comparable: seen on both sides with two records each (one record has no variance); a
    # stray record of a rare backend must not void the comparison of everything else.
    both = [s for s in strata if s in before and s in after
            and before[s].n >= 2 and after[s].n >= 2]
    weights = _weights({s: (before[s].n, after[s].n) for s in both})
    compared = sum(before[s].n + after[s].n for s in both)
    share = compared / (total_b + total_a) if total_b + total_a else 0.0
    rows = [(s, before.get(s), after.get(s), weights.get(s, 0.0)) for s in strata]
    if not both:
        return Adjusted(None, None, None, None, 0.0, mix, rows)
    mean_shift = sum(w * (after[s].mean - before[s].mean) for s, w in weights.items())
    mean_ci = _mean_interval(before, after, weights, mean_shift, confidence)
    # The p95 comparison needs a p95 and MIN_P95_SAMPLE sampled durations a side; the weights
    # are renormalised over the strata that have them.
    p95_ok = [s for s in both if before[s].p95 is not None and after[s].p95 is not None
              and len(before[s].sample) >= MIN_P95_SAMPLE
              and len(after[s].sample) >= MIN_P95_SAMPLE]
    p95_weights = _weights({s: (before[s].n, after[s].n) for s in p95_ok})
    p95_parts = [(w, before[s], after[s]) for s, w in p95_weights.items()]
    p95_shift = (sum(w * ((a.p95 or 0.0) - (b.p95 or 0.0)) for w, b, a in p95_parts)
                 if p95_parts else None)
    p95_ci = _p95_interval(p95_parts, confidence, _seed(seed_key)) if p95_parts else None
    return Adjusted(mean_shift, mean_ci, p95_shift, p95_ci, share, mix, rows)


def _weights(counts: dict[Stratum, tuple[int, int]]) -> dict[Stratum, float]:
    """Mantel–Haenszel weights n_b·n_a/(n_b + n_a), normalised to sum to 1."""
    raw = {s: b * a / (b + a) for s, (b, a) in counts.items()}
    total = sum(raw.values())
    return {s: (w / total if total else 0.0) for s, w in raw.items()}


def _mean_interval(before: dict[Stratum, Side], after: dict[Stratum, Side],
                   weights: dict[Stratum, float], shift: float,
                   confidence: float) -> tuple[float, float] | None:
    """Welch–Satterthwaite interval of a weighted sum of per-stratum mean differences (every
    compared stratum has two records a side); None when a variance is missing."""
    terms: list[tuple[float, int]] = []  # (w² · var / n, n) per side per stratum
    for s, w in weights.items():
        for side in (before[s], after[s]):
            if side.n < 2 or side.var is None:
                return None
            terms.append((w * w * side.var / side.n, side.n))
    variance = sum(c for c, _ in terms)
    if variance == 0:
        return (shift, shift)
    df = variance ** 2 / sum(c * c / (n - 1) for c, n in terms if c)
    t = t_quantile(0.5 + confidence / 2, df)
    se = math.sqrt(variance)
    return (shift - t * se, shift + t * se)


def _p95_interval(parts: list[tuple[float, Side, Side]], confidence: float,
                  seed: int) -> tuple[float, float] | None:
    """Stratified percentile bootstrap of the weighted p95 shift; None unless every compared
    stratum has MIN_P95_SAMPLE sampled durations a side."""
    if any(len(b.sample) < MIN_P95_SAMPLE or len(a.sample) < MIN_P95_SAMPLE for _, b, a in parts):
        return None
    rng = random.Random(seed)
    shifts = [sum(w * (resampled_quantile(a.sample, 0.95, rng)
                       - resampled_quantile(b.sample, 0.95, rng)) for w, b, a in parts)
              for _ in range(ROUNDS)]
    tail = (1 - confidence) / 2
    return (quantile_linear(shifts, tail), quantile_linear(shifts, 1 - tail))


def verdict(mean_ci: list[float] | None, p95_ci: list[float] | None,
            enough: bool = True) -> str:
    """'regressed' when an interval excludes zero on the bad side (stability down, p95 duration
    up), else 'improved' when one excludes zero on the good side, else 'no evidence' (always
    when there are not `enough` records for a verdict)."""
    if not enough:
        return "no evidence"
    worse = (mean_ci is not None and mean_ci[1] < 0) or (p95_ci is not None and p95_ci[0] > 0)
    better = (mean_ci is not None and mean_ci[0] > 0) or (p95_ci is not None and p95_ci[1] < 0)
    return "regressed" if worse else "improved" if better else "no evidence"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 9)


def change_fields(strata: dict[tuple[int, str], dict[Stratum, Side]], width_us: int,
                  before_w: datetime, after_w: datetime, d_before: str,
                  d_after: str) -> dict[str, object]:
    """A `Change`'s like-with-like fields (verdict, adjusted shifts, strata), from `side_stats`."""
    before = strata.get((queries.bucket_of(before_w, width_us), d_before), {})
    after = strata.get((queries.bucket_of(after_w, width_us), d_after), {})
    adj = compare(before, after, seed_key=f"{before_w}|{after_w}|{d_before}|{d_after}")
    mean_ci = [_round(x) or 0.0 for x in adj.mean_ci] if adj.mean_ci else None
    p95_ci = [_round(x) or 0.0 for x in adj.p95_ci] if adj.p95_ci else None
    compared = [(b.n, a.n) for _, b, a, w in adj.strata if w > 0 and b and a]
    enough = bool(compared) and min(sum(b for b, _ in compared),
                                    sum(a for _, a in compared)) >= MIN_VERDICT_RECORDS
    return {
        "verdict": verdict(mean_ci, p95_ci, enough),
        "adjustedMeanStabilityShift": _round(adj.mean_shift), "adjustedMeanStabilityShiftCI":
        mean_ci, "adjustedP95DurationShift": _round(adj.p95_shift),
        "adjustedP95DurationShiftCI": p95_ci, "comparedShare": _round(adj.compared_share),
        "mixShift": _round(adj.mix_shift),
        "strata": [StratumShift(
            backend=s[0], device=s[1], recordsBefore=b.n if b else 0,
            recordsAfter=a.n if a else 0,
            meanStabilityShift=_round(a.mean - b.mean) if a and b else None,
            p95DurationShift=_round(a.p95 - b.p95) if a and b and a.p95 is not None
            and b.p95 is not None else None, weight=_round(w) or 0.0)
            for s, b, a, w in adj.strata]}
