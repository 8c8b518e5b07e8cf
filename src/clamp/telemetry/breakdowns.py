"""Every breakdown's statistics from the store in three scans, whatever their number.

- The (session, window) *cells* of valid records (one scan) give each group's count, sessions,
  mean, variance and first/last times by merging cells (Chan's pairwise update: exact to
  rounding), and each single-cell session's p95.
- p95s do not merge, so one `GROUPING SETS` query and the total's query compute them. (Running
  them in a thread beside the cell scan and merge was measured: no faster, since both are
  DuckDB's work on the same two cores.)
- p95s already known are not asked for: a breakdown with one group has the total's, a window
  that ran one image has that (window, image) group's, a trust group holding one image has that
  image's — the same records either way.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from clamp.telemetry.queries import (
    BACKEND,
    DEVICE,
    EMPTY,
    ORIGIN_US,
    VALID,
    Grouped,
    Row,
    clean,
    total_p95s,
    window_start,
)
from clamp.telemetry.stats import Moments

if TYPE_CHECKING:
    import duckdb

# Per (session, window) cell: everything but the p95s of the breakdowns, plus the cell's own p95
# (the session's, when the session is one cell: nearly free here, where a per-session quantile
# would be another pass). __OVERRIDES__ adds record-level backend/device when any record has one.
CUBE = f"""
SELECT r.file_id, (epoch_us(r.acquired_at) - {ORIGIN_US}) // $1::BIGINT AS w, __OVERRIDES__,
       count(*), avg(r.stability), var_samp(r.stability),
       timezone('UTC', min(r.acquired_at)), timezone('UTC', max(r.acquired_at)),
       quantile_cont(r.duration_ms, 0.95)
FROM records AS r WHERE r.reason IS NULL GROUP BY ALL
"""
_OVERRIDES = ("CASE WHEN r.extra IS NOT NULL THEN r.extra->>'rb' END, "
              "CASE WHEN r.extra IS NOT NULL THEN r.extra->>'rd' END")
HAS_OVERRIDES = """
SELECT count(*) FROM records WHERE CASE WHEN extra IS NULL THEN false
    ELSE extra->>'rb' IS NOT NULL OR extra->>'rd' IS NOT NULL END
"""
FILE_P95 = """
SELECT file_id, quantile_cont(duration_ms, 0.95) FROM records
WHERE reason IS NULL AND file_id IN (SELECT unnest($1::INTEGER[])) GROUP BY 1
"""
WINDOW_P95 = f"""
SELECT r.w, quantile_cont(r.duration_ms, 0.95) FROM {VALID}
WHERE r.w IN (SELECT unnest($2::BIGINT[])) GROUP BY 1
"""
# Key columns of the p95 grouping sets, in GROUPING() argument order.
_P95_KEYS = {"backend": BACKEND, "device": DEVICE, "digest": "s.digest", "window": "r.w",
             "trust": "s.tgroup"}
# Every breakdown and the key columns of its grouping set; `grouped` builds each cell's keys in
# this order.
_DIMENSIONS = {"total": (), "file": ("file",), "backend": ("backend",), "device": ("device",),
               "digest": ("digest",), "window_digest": ("window", "digest"),
               "window": ("window",), "trust": ("trust",)}

Cell = tuple[int, int, Any, Any, int, float, float | None, datetime, datetime, float | None]
P95s = dict[str, dict[Any, float | None]]
_Attrs = dict[int, tuple[str | None, str, str | None, str | None]]


def grouped(con: duckdb.DuckDBPyConnection, width_us: int) -> Grouped:
    """Statistics for every breakdown (sessions included), windows `width_us` microseconds wide.

    Needs the temp table `sess` (see `queries.load_sessions_table`).
    """
    overrides = con.execute(HAS_OVERRIDES).fetchone() != (0,)
    attrs: _Attrs = {fid: (digest, tgroup, backend, device) for fid, digest, tgroup, backend,
                     device in con.execute("SELECT file_id, digest, tgroup, backend, device "
                                           "FROM sess").fetchall()}
    cells: list[Cell] = con.execute(
        CUBE.replace("__OVERRIDES__", _OVERRIDES if overrides else "NULL, NULL"),
        [width_us]).fetchall()
    members, trust_images = _members(cells, attrs)
    merged = {d: {k: _merge(cells, m) for k, m in members[d].items()} for d in _DIMENSIONS}
    total, origin = total_p95s(con)
    p95 = _asked(con, width_us, members, trust_images, overrides, total)
    p95 = _complete(con, width_us, p95, members, cells, trust_images)

    def rows(dimension: str) -> dict[Any, Row]:
        known = p95[dimension]
        return {k: Row(n, sessions, mean, var, known.get(k), first, last)
                for k, (n, sessions, mean, var, first, last) in merged[dimension].items()}

    out = Grouped(EMPTY, rows("backend"), rows("device"), rows("digest"), rows("file"), {}, {},
                  rows("trust"))
    out.total = rows("total").get((), EMPTY)
    out.origin_p95 = origin
    # Records without acquired_at (optional, as in the origin) fall in no time window.
    out.window = {window_start(w, width_us): r for w, r in rows("window").items()
                  if w is not None}
    out.window_digest = {(window_start(w, width_us), d): r
                         for (w, d), r in rows("window_digest").items() if w is not None}
    return out


def _members(cells: list[Cell], attrs: _Attrs
             ) -> tuple[dict[str, dict[Any, list[int]]], dict[str, set[str | None]]]:
    """For every breakdown, each group's cells (as indices into `cells`); and the images each
    trust group ran."""
    members: dict[str, dict[Any, list[int]]] = {d: {} for d in _DIMENSIONS}
    trust_images: dict[str, set[str | None]] = {}
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
        images = trust_images.get(tgroup)
        if images is None:
            trust_images[tgroup] = {digest}
        else:
            images.add(digest)
    return members, trust_images


Merged = tuple[int, int, float, float | None, datetime, datetime]


def _merge(cells: list[Cell], members: list[int]) -> Merged:
    """(n, sessions, mean, variance, first, last) of a group from its cells."""
    first_cell = cells[members[0]]
    if len(members) == 1:
        _, _, _, _, n, mean, var, first, last, _ = first_cell
        return (n, 1, mean, var, first, last)
    moments = Moments()
    files = set()
    first, last = first_cell[7], first_cell[8]
    for index in members:
        fid, _, _, _, n, mean, var, cell_first, cell_last, _ = cells[index]
        moments.add(n, mean, var)
        files.add(fid)
        # a cell of records without acquired_at (optional) has no first/last time
        if cell_first is not None and (first is None or cell_first < first):
            first = cell_first
        if cell_last is not None and (last is None or cell_last > last):
            last = cell_last
    return (moments.n, len(files), moments.mean, moments.variance, first, last)


def _asked(con: duckdb.DuckDBPyConnection, width_us: int,
           members: dict[str, dict[Any, list[int]]], trust_images: dict[str, set[str | None]],
           overrides: bool, total: float | None) -> P95s:
    """The total p95 (`total`, from `queries.total_p95s`), and one GROUPING SETS query for the
    breakdowns whose p95s are not known otherwise: backends, devices, images and (window,
    image) pairs with more than one group, and trust groups when one of several holds more than
    one image."""
    out: P95s = {d: {} for d in _DIMENSIONS}
    if total is None:
        return out
    out["total"][()] = total
    wanted = [d for d in ("backend", "device", "digest", "window_digest") if len(members[d]) > 1]
    if len(trust_images) > 1 and any(len(images) > 1 for images in trust_images.values()):
        wanted.append("trust")
    if not wanted:
        return out
    used = {k for d in wanted for k in _DIMENSIONS[d]}
    names = [k for k in _P95_KEYS if k in used]
    expressions = {**_P95_KEYS, **({} if overrides else
                                   {"backend": "s.backend", "device": "s.device"})}
    columns = ", ".join(f"{expressions[k]} AS k_{k}" for k in names)
    sets = ", ".join("(" + ", ".join(f"k_{k}" for k in _DIMENSIONS[d]) + ")" for d in wanted)
    query = (f"SELECT GROUPING({', '.join('k_' + k for k in names)}), "
             f"{', '.join('k_' + k for k in names)}, quantile_cont(d, 0.95) "
             f"FROM (SELECT {columns}, r.duration_ms AS d FROM {VALID}) "
             f"GROUP BY GROUPING SETS ({sets})")
    masks = {sum(1 << (len(names) - 1 - i) for i, k in enumerate(names)
                 if k not in _DIMENSIONS[d]): d for d in wanted}
    for mask, *keys, value in con.execute(query, [width_us]).fetchall():
        dimension = masks[mask]
        key_of = dict(zip(names, keys, strict=True))
        parts = tuple(key_of[k] for k in _DIMENSIONS[dimension])
        out[dimension][parts if dimension == "window_digest" else parts[0]] = clean([value])[0]
    return out


def _complete(con: duckdb.DuckDBPyConnection, width_us: int, p95: P95s,
              members: dict[str, dict[Any, list[int]]], cells: list[Cell],
              trust_images: dict[str, set[str | None]]) -> P95s:
    """Fill in the p95s the grouping sets did not ask for, from what they and the cells say."""
    total = p95["total"].get(())
    for dimension in ("backend", "device", "digest", "window_digest"):
        if not p95[dimension]:  # not asked for: one group (or none)
            p95[dimension] = dict.fromkeys(members[dimension], total)
    groups = members["trust"]
    if not p95["trust"]:  # not asked for: one trust group, or one image in each
        p95["trust"] = {g: total if len(groups) == 1 else
                        p95["digest"].get(next(iter(trust_images[g]))) for g in groups}
    per_window: dict[int, list[Any]] = {}
    for w, digest in members["window_digest"]:
        per_window.setdefault(w, []).append(digest)
    p95["window"] = {w: p95["window_digest"].get((w, digests[0]))
                     for w, digests in per_window.items() if len(digests) == 1}
    mixed = [w for w, digests in per_window.items() if len(digests) > 1]
    if mixed:
        p95["window"].update((w, clean([v])[0]) for w, v in
                             con.execute(WINDOW_P95, [width_us, mixed]).fetchall())
    p95["file"] = {fid: clean([cells[m[0]][9]])[0] for fid, m in members["file"].items()}
    multi_cell = [fid for fid, m in members["file"].items() if len(m) > 1]
    if multi_cell:
        p95["file"].update((fid, clean([v])[0]) for fid, v in
                           con.execute(FILE_P95, [multi_cell]).fetchall())
    return p95
