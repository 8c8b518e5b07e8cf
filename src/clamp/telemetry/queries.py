"""Statistics out of the store: one grouped scan for every breakdown.

All breakdowns come from a single `GROUPING SETS` query over the valid records, so the 5-million
record case pays for one scan, not six. Each session's image digest and trust group are attached
through a small temp table (`sess`) built from the provenance evidence before the query runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

_STATS = """count(*) AS n, count(DISTINCT r.file_id) AS sessions, avg(r.stability) AS mean,
    var_samp(r.stability) AS var, quantile_cont(r.duration_ms, 0.95) AS p95,
    min(r.acquired_at) AS first, max(r.acquired_at) AS last"""

GROUPED = f"""
SELECT grouping(r.backend) = 0 AS g_backend, grouping(r.device) = 0 AS g_device,
       grouping(s.digest) = 0 AS g_digest, grouping(r.file_id) = 0 AS g_file,
       grouping(w) = 0 AS g_window, grouping(s.tgroup) = 0 AS g_trust,
       r.backend, r.device, s.digest, r.file_id, w, s.tgroup, {_STATS}
FROM (SELECT *, time_bucket($1::INTERVAL, acquired_at) AS w FROM records
      WHERE reason IS NULL) AS r
JOIN sess AS s USING (file_id)
GROUP BY GROUPING SETS ((), (r.backend), (r.device), (s.digest), (r.file_id), (w),
                        (w, s.digest), (s.tgroup))
"""

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
SAMPLE_DURATIONS = """
SELECT r.duration_ms FROM records AS r JOIN sess AS s USING (file_id)
WHERE r.reason IS NULL AND s.digest = $2
  AND time_bucket($1::INTERVAL, r.acquired_at) = $3::TIMESTAMPTZ
USING SAMPLE reservoir(1000 ROWS) REPEATABLE (7)
"""


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


EMPTY = Row(0, 0, None, None, None, None, None)


def load_sessions_table(con: duckdb.DuckDBPyConnection, rows: list[tuple[int, str | None, str]]
                        ) -> None:
    """(Re)create the temp table mapping file_id to image digest and trust group."""
    con.execute("CREATE OR REPLACE TEMP TABLE sess (file_id INTEGER, digest VARCHAR, "
                "tgroup VARCHAR)")
    if rows:
        ids, digests, groups = (list(c) for c in zip(*rows, strict=True))
        con.execute("INSERT INTO sess SELECT unnest($1), unnest($2::VARCHAR[]), unnest($3)",
                    [ids, digests, groups])


def grouped(con: duckdb.DuckDBPyConnection, interval: str) -> Grouped:
    """Run the grouped statistics query for windows of width `interval` (e.g. '1 day')."""
    out = Grouped(EMPTY, {}, {}, {}, {}, {}, {}, {})
    for rec in con.execute(GROUPED, [interval]).fetchall():
        (g_backend, g_device, g_digest, g_file, g_window, g_trust,
         backend, device, digest, file_id, window, tgroup, *stats) = rec
        row = Row(*_clean(stats))
        window = _naive(window)
        if g_window and g_digest:
            out.window_digest[(window, digest)] = row
        elif g_window:
            out.window[window] = row
        elif g_backend:
            out.backend[backend] = row
        elif g_device:
            out.device[device] = row
        elif g_digest:
            out.digest[digest] = row
        elif g_file:
            out.file[file_id] = row
        elif g_trust:
            out.trust[tgroup] = row
        else:
            out.total = row
    return out


def _clean(stats: list[Any]) -> list[Any]:
    """NaN-free numbers and naive-UTC datetimes (DuckDB hands back zone-aware ones)."""
    return [None if isinstance(v, float) and v != v else _naive(v) for v in stats]


def _naive(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
