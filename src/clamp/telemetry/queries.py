"""Statistics out of the store: one grouped scan for every breakdown.

One query per breakdown over the valid records (DuckDB runs these faster than one `GROUPING SETS`
query), skipping those whose answer is already known. Each session's image digest, trust group,
backend and device are attached through a small temp table (`sess`) built before the queries run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from clamp.telemetry.sessions import REASONS
from clamp.telemetry.stats import Moments

if TYPE_CHECKING:
    import duckdb

_STATS = """count(*) AS n, count(DISTINCT r.file_id) AS sessions, avg(r.stability) AS mean,
    var_samp(r.stability) AS var, quantile_cont(r.duration_ms, 0.95) AS p95,
    min(r.acquired_at) AS first, max(r.acquired_at) AS last"""

# Windows are fixed-width buckets of epoch microseconds counted from Monday 1970-01-05 00:00
# UTC ($1 = width in microseconds): integer arithmetic, far cheaper than time_bucket on
# TIMESTAMPTZ, and weeks start on Mondays.
ORIGIN_US = 4 * 86_400_000_000
VALID = f"""(SELECT *, (epoch_us(acquired_at) - {ORIGIN_US}) // $1::BIGINT AS w
             FROM records WHERE reason IS NULL) AS r JOIN sess AS s USING (file_id)"""
# A record's backend and device are its session's unless the record names others (kept in
# `extra`, NULL on almost every row).
BACKEND = "coalesce(r.extra->>'rb', s.backend)"
DEVICE = "coalesce(r.extra->>'rd', s.device)"

# One query per breakdown: DuckDB runs these far faster than one GROUPING SETS query.
DIMENSIONS = {
    "total": (), "backend": (BACKEND,), "device": (DEVICE,), "digest": ("s.digest",),
    "window": ("r.w",), "window_digest": ("r.w", "s.digest"), "trust": ("s.tgroup",),
    "file": ("r.file_id",),
}


def dimension_query(dimension: str, where: str = "") -> str:
    keys = DIMENSIONS[dimension]
    clause = f" WHERE {where}" if where else ""
    if not keys:
        return f"SELECT {_STATS} FROM {VALID}{clause}"
    return f"SELECT {', '.join(keys)}, {_STATS} FROM {VALID}{clause} GROUP BY ALL"



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


# Per (session, window) cell of valid records: everything but the p95s of every breakdown, in
# one scan, plus the cell's own p95 (the session's, when the session is one cell: nearly free
# here, where a separate per-session quantile would be another pass over every record).
# __OVERRIDES__ adds the record-level backend/device when any record has one.
CUBE = f"""
SELECT r.file_id, (epoch_us(r.acquired_at) - {ORIGIN_US}) // $1::BIGINT AS w, __OVERRIDES__,
       count(*), avg(r.stability), var_samp(r.stability),
       timezone('UTC', min(r.acquired_at)), timezone('UTC', max(r.acquired_at)),
       quantile_cont(r.duration_ms, 0.95)
FROM records AS r WHERE r.reason IS NULL GROUP BY ALL
"""
FILE_P95 = """
SELECT file_id, quantile_cont(duration_ms, 0.95) FROM records
WHERE reason IS NULL AND file_id IN (SELECT unnest($1::INTEGER[])) GROUP BY 1
"""
_OVERRIDES = ("CASE WHEN r.extra IS NOT NULL THEN r.extra->>'rb' END, "
              "CASE WHEN r.extra IS NOT NULL THEN r.extra->>'rd' END")
HAS_OVERRIDES = """
SELECT count(*) FROM records WHERE CASE WHEN extra IS NULL THEN false
    ELSE extra->>'rb' IS NOT NULL OR extra->>'rd' IS NOT NULL END
"""
TOTAL_P95 = "SELECT quantile_cont(duration_ms, 0.95) FROM records WHERE reason IS NULL"
# The key columns a p95 grouping set can use, in GROUPING() argument order.
_P95_KEYS = {"backend": BACKEND, "device": DEVICE, "digest": "s.digest", "window": "r.w",
             "trust": "s.tgroup"}
# Every breakdown and the key columns of its p95 grouping set (`grouped` builds each cell's keys
# in this order).
_P95_SETS = {"total": (), "file": ("file",), "backend": ("backend",), "device": ("device",),
             "digest": ("digest",), "window_digest": ("window", "digest"),
             "window": ("window",), "trust": ("trust",)}


Cell = tuple[int, int, Any, Any, int, float, float | None, datetime, datetime, float | None]


def _merge(cells: list[Cell], members: list[int], p95: float | None) -> Row:
    """A group's statistics from its (session, window) cells (Chan's pairwise update)."""
    first_cell = cells[members[0]]
    if len(members) == 1:
        _, _, _, _, n, mean, var, first, last, _ = first_cell
        return Row(n, 1, mean, var, p95, first, last)
    moments = Moments()
    files = set()
    first, last = first_cell[7], first_cell[8]
    for index in members:
        fid, _, _, _, n, mean, var, cell_first, cell_last, _ = cells[index]
        moments.add(n, mean, var)
        files.add(fid)
        if cell_first < first:
            first = cell_first
        if cell_last > last:
            last = cell_last
    return Row(moments.n, len(files), moments.mean, moments.variance, p95, first, last)


def grouped(con: duckdb.DuckDBPyConnection, width_us: int) -> Grouped:
    """Statistics for every breakdown (sessions included), windows `width_us` microseconds wide.

    Three scans of the records whatever the number of breakdowns: the (session, window) cells
    give counts, sessions, means, variances and first/last times of every group by merging;
    the total p95 and one `GROUPING SETS` query give the p95s. p95s whose answer is already
    known are not asked for: a breakdown with a single group has the total's, a window that ran
    one image has that (window, image) group's, a trust group holding one image has that
    image's. Exact either way, since the groups are then the same records.
    """
    overrides = con.execute(HAS_OVERRIDES).fetchone() != (0,)
    attrs = {fid: (digest, tgroup, backend, device) for fid, digest, tgroup, backend, device
             in con.execute("SELECT file_id, digest, tgroup, backend, device FROM sess")
             .fetchall()}
    cube = CUBE.replace("__OVERRIDES__", _OVERRIDES if overrides else "NULL, NULL")
    cells: list[Cell] = con.execute(cube, [width_us]).fetchall()
    members: dict[str, dict[Any, list[int]]] = {d: {} for d in _P95_SETS}
    tables = list(members.values())
    unknown = (None, "unverified", None, None)
    for index, (fid, w, rb, rd, *_) in enumerate(cells):
        digest, tgroup, backend, device = attrs.get(fid, unknown)
        keys = ((), fid, backend if rb is None else rb, device if rd is None else rd, digest,
                (w, digest), w, tgroup)
        for table, key in zip(tables, keys, strict=True):
            found = table.get(key)
            if found is None:
                table[key] = [index]
            else:
                found.append(index)
    p95 = _p95s(con, width_us, members, cells, overrides)
    multi_cell = [fid for fid, m in members["file"].items() if len(m) > 1]
    p95["file"] = {fid: _clean([cells[m[0]][9]])[0] for fid, m in members["file"].items()}
    if multi_cell:
        p95["file"].update((fid, _clean([v])[0]) for fid, v in
                           con.execute(FILE_P95, [multi_cell]).fetchall())

    def rows(dimension: str) -> dict[Any, Row]:
        return {k: _merge(cells, m, p95[dimension].get(k))
                for k, m in members[dimension].items()}

    out = Grouped(EMPTY, rows("backend"), rows("device"), rows("digest"), rows("file"), {}, {},
                  rows("trust"))
    out.total = rows("total").get((), EMPTY)
    out.window = {window_start(w, width_us): r for w, r in rows("window").items()}
    out.window_digest = {(window_start(w, width_us), d): r
                         for (w, d), r in rows("window_digest").items()}
    return out


def _p95s(con: duckdb.DuckDBPyConnection, width_us: int, groups: dict[str, dict[Any, list[int]]],
          cells: list[Cell], overrides: bool) -> dict[str, dict[Any, float | None]]:
    """The p95 of every group, asking DuckDB only for the ones not known otherwise."""
    out: dict[str, dict[Any, float | None]] = {d: {} for d in groups}
    if not groups["total"]:
        return out
    total = _clean([con.execute(TOTAL_P95).fetchone()[0]])[0]  # type: ignore[index]
    out["total"][()] = total
    wanted = []
    for dimension in ("backend", "device", "digest", "window_digest"):
        if len(groups[dimension]) == 1:
            out[dimension] = dict.fromkeys(groups[dimension], total)
        else:
            wanted.append(dimension)
    digests_in: dict[str, dict[Any, set[Any]]] = {"window": {}, "trust": {}}
    for w, digest in groups["window_digest"]:
        digests_in["window"].setdefault(w, set()).add(digest)
    for tgroup, members in groups["trust"].items():
        files = {cells[i][0] for i in members}
        digests_in["trust"][tgroup] = {k for k, m in groups["digest"].items()
                                       if any(cells[i][0] in files for i in m)}
    for dimension in ("window", "trust"):
        mixed = [k for k, ds in digests_in[dimension].items() if len(ds) > 1]
        if len(groups[dimension]) == 1:
            out[dimension] = dict.fromkeys(groups[dimension], total)
        elif mixed:
            wanted.append(dimension)
    if wanted:
        used = {k for d in wanted for k in _P95_SETS[d]}
        names = [k for k in _P95_KEYS if k in used]
        sets = ", ".join("(" + ", ".join(f"k_{k}" for k in _P95_SETS[d]) + ")" for d in wanted)
        expressions = {**_P95_KEYS, **({} if overrides else
                                       {"backend": "s.backend", "device": "s.device"})}
        columns = ", ".join(f"{expressions[k]} AS k_{k}" for k in names)
        query = (f"SELECT GROUPING({', '.join('k_' + k for k in names)}), "
                 f"{', '.join('k_' + k for k in names)}, quantile_cont(d, 0.95) "
                 f"FROM (SELECT {columns}, r.duration_ms AS d FROM {VALID}) "
                 f"GROUP BY GROUPING SETS ({sets})")
        masks = {sum(1 << (len(names) - 1 - i) for i, k in enumerate(names)
                     if k not in _P95_SETS[d]): d for d in wanted}
        for mask, *keys, value in con.execute(query, [width_us]).fetchall():
            dimension = masks[mask]
            key_of = dict(zip(names, keys, strict=True))
            parts = tuple(key_of[k] for k in _P95_SETS[dimension])
            key = parts if dimension == "window_digest" else parts[0]
            out[dimension][key] = _clean([value])[0]
    for dimension in ("window", "trust"):
        if dimension in wanted or len(groups[dimension]) == 1:
            continue
        for key, digests in digests_in[dimension].items():
            (digest,) = digests
            out[dimension][key] = (out["window_digest"].get((key, digest)) if dimension == "window"
                                   else out["digest"].get(digest))
    return out


def bucket_of(start: datetime, width_us: int) -> int:
    """Window number of a window start (inverse of `window_start`)."""
    micros = (start - EPOCH) // timedelta(microseconds=1)
    return (micros - ORIGIN_US) // width_us


def _clean(stats: list[Any]) -> list[Any]:
    """NaN-free numbers and naive-UTC datetimes (DuckDB hands back zone-aware ones)."""
    return [None if isinstance(v, float) and v != v else _naive(v) for v in stats]


def _naive(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
