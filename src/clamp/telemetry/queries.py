"""SQL over the store and the shapes its answers take.

Each session's image digest, trust group, backend and device are attached to its records through
a small temp table (`sess`) built from the provenance evidence before the breakdowns are
computed (`breakdowns.grouped`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from clamp.telemetry.sessions import REASONS

if TYPE_CHECKING:
    import duckdb

# Windows are fixed-width buckets of epoch microseconds counted from Monday 1970-01-05 00:00
# UTC ($1 = width in microseconds): integer arithmetic, far cheaper than time_bucket on
# TIMESTAMPTZ, and weeks start on Mondays.
ORIGIN_US = 4 * 86_400_000_000
VALID = f"""(SELECT *, (epoch_us(acquired_at) - {ORIGIN_US}) // $1::BIGINT AS w
             FROM records WHERE reason IS NULL) AS r JOIN sess AS s USING (file_id)"""
# Which records a thinned bootstrap sample keeps: a hash of the record's own content (time,
# position in its session, duration, stability), never of the store's file ids, so the same
# session files give the same sample in any store, whatever order they were ingested in.
SAMPLE_HASH = "hash(epoch_us(r.acquired_at), r.idx, r.duration_ms, r.stability)"
# A record's backend and device are its session's unless the record names others (kept in
# `extra`, NULL on almost every row).
BACKEND = "coalesce(r.extra->>'rb', s.backend)"
DEVICE = "coalesce(r.extra->>'rd', s.device)"

# Reasons are stored as their index (plus one) in `sessions.REASONS`; see `reason_text`.
INVALID_BY_REASON = "SELECT reason, count(*) FROM records WHERE reason IS NOT NULL GROUP BY 1"
INVALID_BY_FILE = ("SELECT file_id, count(*) FROM records WHERE reason IS NOT NULL "
                   "GROUP BY 1")
INVALID_EXAMPLES = """
SELECT f.path, r.idx, r.reason FROM records AS r JOIN files AS f USING (file_id)
WHERE r.reason IS NOT NULL ORDER BY f.path, r.idx LIMIT 50
"""
CORRUPT = "SELECT path, reason FROM files WHERE status = 'corrupt' ORDER BY path"
SESSIONS = """
SELECT f.file_id, f.path, s.stability_score, s.backend, s.device, s.image, s.image_digest
FROM files AS f LEFT JOIN sessions AS s USING (file_id) WHERE f.status = 'ok'
"""

_DURATIONS = "SELECT count(duration_ms) FROM records WHERE reason IS NULL"
# Each readable session file's backend and device as the origin chose them: its own top-level
# value, else the first record naming one (for the device, the first record whose stability_score
# is numeric, valid or not: the origin took it from every record it parsed a score from, one
# outside [0, 1] or with a seed of 0 included).
FILE_LABELS = """
WITH firsts AS (
    SELECT file_id, arg_min(extra->>'rb', idx) FILTER (WHERE extra->>'rb' IS NOT NULL) AS rb,
           arg_min(extra->>'rd', idx) FILTER (WHERE extra->>'rd' IS NOT NULL
                                              AND stability IS NOT NULL) AS rd
    FROM records WHERE extra IS NOT NULL GROUP BY file_id)
SELECT coalesce(s.backend, firsts.rb), coalesce(s.device, firsts.rd)
FROM files AS f JOIN sessions AS s USING (file_id) LEFT JOIN firsts USING (file_id)
WHERE f.status = 'ok'
"""


def total_p95s(con: duckdb.DuckDBPyConnection) -> tuple[float | None, float | None]:
    """The durations of valid records: their interpolated p95, and the origin's drift
    percentile, the element at index k = floor(0.95 * (n - 1)) of the n sorted durations (its
    computePercentile); (None, None) when no valid record has a duration.

    Both come from one quantile state when a fraction q exists with (n - 1) * q == k exactly in
    binary floating point (all but about 0.15 % of sizes): `quantile_cont(d, [q, 0.95])` then
    hands back element k itself beside the p95, and DuckDB interpolates both. Otherwise the
    origin's element is selected with `quantile_disc(x, q)`, which returns the element at index
    ceil(n * q) - 1, k for q = (k + 1/2) / n (the half keeps n * q clear of an integer whatever
    the rounding); a second state over every duration, about 0.05 s more at 5 M records.
    """
    row = con.execute(_DURATIONS).fetchone()
    n = 0 if row is None else int(row[0])
    if n == 0:
        return None, None
    k = math.floor(0.95 * (n - 1))
    exact = _exact_fraction(n, k)
    if exact is not None:
        row = con.execute(f"SELECT quantile_cont(duration_ms, [{exact!r}::DOUBLE, 0.95]) "
                          "FROM records WHERE reason IS NULL").fetchone()
        if row is None:
            return None, None
        origin, p95 = row[0]
        return clean([p95])[0], float(origin)
    q = (k + 0.5) / n
    row = con.execute(f"SELECT quantile_cont(duration_ms, 0.95), quantile_disc(duration_ms, "
                      f"{q!r}::DOUBLE) FROM records WHERE reason IS NULL").fetchone()
    if row is None:
        return None, None
    return clean([row[0]])[0], float(row[1])


def _exact_fraction(n: int, k: int) -> float | None:
    """A fraction q with (n - 1) * q == k in double arithmetic (how DuckDB places a continuous
    quantile), so that the quantile is element k with no interpolation; None if none is near."""
    if n == 1:
        return 0.0
    q = k / (n - 1)
    for _ in range(4):
        product = (n - 1) * q
        if product == k:
            return q
        q = math.nextafter(q, 1.0 if product < k else 0.0)
    return None


def origin_label(values: list[str | None], nothing: str) -> str:
    """One label for a directory, as the origin chose it: the only value, 'mixed' for several,
    `nothing` ('unknown' backend, 'unspecified' device) for none."""
    distinct = {v for v in values if v}
    if not distinct:
        return nothing
    return distinct.pop() if len(distinct) == 1 else "mixed"


@dataclass(frozen=True)
class Row:
    """One group's statistics."""

    n: int
    sessions: int
    mean: float | None
    var: float | None
    p95: float | None
    first: datetime | None
    last: datetime | None


@dataclass
class Grouped:
    """The result of `GROUPED`, split by grouping set."""

    total: Row
    backend: dict[str | None, Row]
    device: dict[str | None, Row]
    digest: dict[str | None, Row]
    file: dict[int, Row]
    window: dict[datetime, Row]
    window_digest: dict[tuple[datetime, str | None], Row]
    trust: dict[str, Row]
    origin_p95: float | None = None  # the origin's drift percentile (see `total_p95s`)


EMPTY = Row(0, 0, None, None, None, None, None)
EPOCH = datetime(1970, 1, 1)


def reason_text(code: int) -> str:
    """The reason a stored code stands for."""
    return REASONS[code - 1]


SessRow = tuple[int, str | None, str, str | None, str | None]


def load_sessions_table(con: duckdb.DuckDBPyConnection, rows: list[SessRow]) -> None:
    """(Re)create the temp table mapping file_id to image digest, trust group, backend and
    device."""
    con.execute("CREATE OR REPLACE TEMP TABLE sess (file_id INTEGER, digest VARCHAR, "
                "tgroup VARCHAR, backend VARCHAR, device VARCHAR)")
    if rows:
        ids, digests, groups, backends, devices = (list(c) for c in zip(*rows, strict=True))
        con.execute("INSERT INTO sess SELECT unnest($1), unnest($2::VARCHAR[]), unnest($3), "
                    "unnest($4::VARCHAR[]), unnest($5::VARCHAR[])",
                    [ids, digests, groups, backends, devices])


def window_start(bucket: int, width_us: int) -> datetime:
    """The naive-UTC start of window number `bucket`."""
    return EPOCH + timedelta(microseconds=ORIGIN_US + bucket * width_us)


def wanted_params(width_us: int, wanted: list[tuple[datetime, str, int]],
                  sample: int) -> list[Any]:
    """The query parameters of (window start, digest, record count) triples: the window width,
    then the window buckets, digests and thinning moduli (about `sample` records kept each)."""
    return [width_us,
            [bucket_of(start, width_us) for start, _, _ in wanted],
            [digest for _, digest, _ in wanted],
            [max(1, -(-n // sample)) for _, _, n in wanted]]


def bucket_of(start: datetime, width_us: int) -> int:
    """Window number of a window start (inverse of `window_start`)."""
    micros = (start - EPOCH) // timedelta(microseconds=1)
    return (micros - ORIGIN_US) // width_us


def clean(stats: list[Any]) -> list[Any]:
    """NaN-free numbers and naive-UTC datetimes (DuckDB hands back zone-aware ones)."""
    return [None if isinstance(v, float) and v != v else _naive(v) for v in stats]


def _naive(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
