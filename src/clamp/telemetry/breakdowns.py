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
from clamp.telemetry.summary_cache import SummaryCache

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
FROM records AS r WHERE r.reason IS NULL __NEW__ GROUP BY ALL
"""
_NEW_FILES = "AND r.file_id IN (SELECT unnest($2::INTEGER[]))"
# Cells in the order of their files' paths, not of the store's file ids: ids follow the order
# files were ingested in, and the merge's rounding follows the order of the cells, so a store
# built up run by run gives the same figures as one built at once.
_IN_PATH_ORDER = ("SELECT c.* FROM (__CELLS__) AS c JOIN files AS f USING (file_id) "
                  "ORDER BY f.path, c.w, c.rb, c.rd")
CELLS = _IN_PATH_ORDER.replace("__CELLS__", "SELECT * FROM cache_cells")
_OVERRIDES = ("CASE WHEN r.extra IS NOT NULL THEN r.extra->>'rb' END AS rb, "
              "CASE WHEN r.extra IS NOT NULL THEN r.extra->>'rd' END AS rd")
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
Touched = dict[str, set[Any]] | None  # per breakdown, the groups that gained records
_Attrs = dict[int, tuple[str | None, str, str | None, str | None]]


def grouped(con: duckdb.DuckDBPyConnection, width_us: int,
            cache: SummaryCache | None = None) -> Grouped:
    """Statistics for every breakdown (sessions included), windows `width_us` microseconds wide.

    Needs the temp table `sess` (see `queries.load_sessions_table`). With a `cache` (see
    `summary_cache`), cells are computed for new files only and p95s for the groups that
    gained records only, the rest read from it; what it lacks is computed and left in it.
    """
    overrides = con.execute(HAS_OVERRIDES).fetchone() != (0,)
    attrs: _Attrs = {fid: (digest, tgroup, backend, device) for fid, digest, tgroup, backend,
                     device in con.execute("SELECT file_id, digest, tgroup, backend, device "
                                           "FROM sess").fetchall()}
    cells = _cells(con, width_us, overrides, cache)
    members, trust_images = _members(cells, attrs)
    touched: Touched = None
    if cache is not None and cache.valid:
        new = set(cache.new_ids)
        touched = {d: set(m) for d, m in _members([c for c in cells if c[0] in new],
                                                     attrs)[0].items()}
        cache.touched_sides = touched["window_digest"]
    merged = {d: {k: _merge(cells, m) for k, m in members[d].items()} for d in _DIMENSIONS}
    found, origin = (False, None) if cache is None or touched is None or touched["total"] \
        else cache.cached_p95("origin", ())
    total = cache.cached_p95("total", ())[1] if found and cache is not None else None
    if not found:
        total, origin = total_p95s(con)
    p95 = _asked(con, width_us, members, trust_images, overrides, total, touched, cache,
                 attrs)
    p95 = _complete(con, width_us, p95, members, cells, trust_images, touched, cache)
    if cache is not None:
        cache.computed_p95 = {**p95, "origin": {(): origin}}
        # single-cell sessions' p95s are their cells': only the others need keeping
        cache.computed_p95["file"] = {f: v for f, v in p95["file"].items()
                                      if len(members["file"][f]) > 1}

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


def _cells(con: duckdb.DuckDBPyConnection, width_us: int, overrides: bool,
           cache: SummaryCache | None) -> list[Cell]:
    """Every cell, in (file, window) order: from the cache and the new files' records, or all
    from the records (and then into the cache)."""
    cube = CUBE.replace("__OVERRIDES__", _OVERRIDES if overrides else "NULL AS rb, NULL AS rd")
    if cache is None:
        return con.execute(_IN_PATH_ORDER.replace("__CELLS__", cube.replace("__NEW__", "")),
                           [width_us]).fetchall()
    if not cache.valid:
        con.execute("INSERT INTO cache_cells " + cube.replace("__NEW__", ""), [width_us])
    elif cache.new_ids:
        con.execute("INSERT INTO cache_cells " + cube.replace("__NEW__", _NEW_FILES),
                    [width_us, cache.new_ids])
    cells: list[Cell] = con.execute(CELLS).fetchall()
    return cells


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
    # `stats.Moments.add` written out (the same operations in the same order, so the same
    # figures): this loop runs once per cell per breakdown, 70,000 times at 10,000 sessions.
    total, centre, m2 = 0, 0.0, 0.0
    files = set()
    first, last = first_cell[7], first_cell[8]
    for index in members:
        fid, _, _, _, n, mean, var, cell_first, cell_last, _ = cells[index]
        if n > 0:
            part = var * (n - 1) if var is not None and n > 1 else 0.0
            if total == 0:
                total, centre, m2 = n, mean, part
            else:
                both = total + n
                delta = mean - centre
                centre += delta * n / both
                m2 += part + delta * delta * total * n / both
                total = both
        files.add(fid)
        # a cell of records without acquired_at (optional) has no first/last time
        if cell_first is not None and (first is None or cell_first < first):
            first = cell_first
        if cell_last is not None and (last is None or cell_last > last):
            last = cell_last
    return (total, len(files), centre, m2 / (total - 1) if total > 1 else None, first, last)


def _asked(con: duckdb.DuckDBPyConnection, width_us: int,
           members: dict[str, dict[Any, list[int]]], trust_images: dict[str, set[str | None]],
           overrides: bool, total: float | None, touched: Touched,
           cache: SummaryCache | None, attrs: _Attrs) -> P95s:
    """The total p95 (`total`, from `queries.total_p95s`), and GROUPING SETS queries for the
    breakdowns whose p95s are not known otherwise: backends, devices, images and (window,
    image) pairs with more than one group, and trust groups when one of several holds more than
    one image.

    With a valid cache only groups that gained records are asked (the rest are its values):
    breakdowns where they hold most records in one query over every record, the others in a
    second one over the records of those groups only (each asked group has all its records
    in it; the values of groups it holds only part of are not used)."""
    out: P95s = {d: {} for d in _DIMENSIONS}
    if total is None:
        return out
    out["total"][()] = total
    wanted = [d for d in ("backend", "device", "digest", "window_digest") if len(members[d]) > 1]
    if len(trust_images) > 1 and any(len(images) > 1 for images in trust_images.values()):
        wanted.append("trust")
    needed: dict[str, set[Any]] = {}
    for dimension in wanted:
        keys = set(members[dimension])
        if cache is not None and touched is not None:
            keys = {k for k in keys if k in touched[dimension]
                    or not cache.cached_p95(dimension, k)[0]}
            out[dimension] = {k: cache.cached_p95(dimension, k)[1]
                              for k in members[dimension] if k not in keys}
        if keys:
            needed[dimension] = keys
    if not needed:
        return out
    full: list[str] = list(needed)
    partial: list[str] = []
    if cache is not None and touched is not None:
        full, partial = _split(members, needed)
    expressions = {**_P95_KEYS, **({} if overrides else
                                   {"backend": "s.backend", "device": "s.device"})}
    for dims, only in ((full, False), (partial, True)):
        if dims:
            for dimension, key, value in _p95_sets(con, width_us, dims, expressions,
                                                    {d: needed[d] for d in dims} if only
                                                    else None, attrs):
                if key in needed[dimension]:
                    out[dimension][key] = value
    return out


def _split(members: dict[str, dict[Any, list[int]]], needed: dict[str, set[Any]]
           ) -> tuple[list[str], list[str]]:
    """Breakdowns to ask over every record (the needed groups' cells are most of all cells)
    and those to ask over their needed groups' records only."""
    full: list[str] = []
    partial: list[str] = []
    for dimension, keys in needed.items():
        share = sum(len(members[dimension][k]) for k in keys)
        total = sum(len(m) for m in members[dimension].values())
        (full if 2 * share >= total else partial).append(dimension)
    return full, partial


# Keys that are a session's own attributes (index into `_Attrs`), when read from `sess`.
_FILE_ATTRS = {"digest": 0, "trust": 1, "backend": 2, "device": 3}
_P95_FILE_KEYS = {"digest": "s.digest", "trust": "s.tgroup", "backend": "s.backend",
                  "device": "s.device"}
_NULL_TEXT = "\x00"  # stands for a NULL key in the restricting lists (no label holds it)


def _p95_sets(con: duckdb.DuckDBPyConnection, width_us: int, dims: list[str],
              expressions: dict[str, str], only: dict[str, set[Any]] | None,
              attrs: _Attrs) -> list[tuple[str, Any, float | None]]:
    """(breakdown, key, p95) from one GROUPING SETS query over `dims`, restricted to the records
    of the groups in `only` when given."""
    used = {k for d in dims for k in _DIMENSIONS[d]}
    names = [k for k in _P95_KEYS if k in used]
    columns = ", ".join(f"{expressions[k]} AS k_{k}" for k in names)
    sets = ", ".join("(" + ", ".join(f"k_{k}" for k in _DIMENSIONS[d]) + ")" for d in dims)
    params: list[Any] = [width_us]
    where = ""
    if only is not None:
        terms = []
        for dimension, keys in only.items():
            parts = []
            for i, name in enumerate(_DIMENSIONS[dimension]):
                wanted = sorted({(k[i] if isinstance(k, tuple) else k) for k in keys},
                                key=lambda v: (v is None, str(v)))
                column = expressions[name]
                if name in _FILE_ATTRS and column == _P95_FILE_KEYS[name]:
                    # a session's own label: the records of its files, picked before the join
                    chosen = set(wanted)
                    params.append(sorted(f for f, a in attrs.items()
                                         if a[_FILE_ATTRS[name]] in chosen))
                    parts.append(f"r.file_id IN (SELECT unnest(${len(params)}::INTEGER[]))")
                elif name == "window":
                    params.append([v for v in wanted if v is not None])
                    parts.append(f"{column} IN (SELECT unnest(${len(params)}::BIGINT[]))")
                else:
                    params.append([_NULL_TEXT if v is None else v for v in wanted])
                    parts.append(f"coalesce({column}, '{_NULL_TEXT}') IN "
                                 f"(SELECT unnest(${len(params)}::VARCHAR[]))")
            terms.append("(" + " AND ".join(parts) + ")")
        where = " WHERE " + " OR ".join(terms)
    query = (f"SELECT GROUPING({', '.join('k_' + k for k in names)}), "
             f"{', '.join('k_' + k for k in names)}, quantile_cont(d, 0.95) "
             f"FROM (SELECT {columns}, r.duration_ms AS d FROM {VALID}{where}) "
             f"GROUP BY GROUPING SETS ({sets})")
    masks = {sum(1 << (len(names) - 1 - i) for i, k in enumerate(names)
                 if k not in _DIMENSIONS[d]): d for d in dims}
    out = []
    for mask, *values, value in con.execute(query, params).fetchall():
        dimension = masks[mask]
        key_of = dict(zip(names, values, strict=True))
        key = tuple(key_of[k] for k in _DIMENSIONS[dimension])
        out.append((dimension, key if dimension == "window_digest" else key[0],
                    clean([value])[0]))
    return out


def _complete(con: duckdb.DuckDBPyConnection, width_us: int, p95: P95s,
              members: dict[str, dict[Any, list[int]]], cells: list[Cell],
              trust_images: dict[str, set[str | None]], touched: Touched,
              cache: SummaryCache | None) -> P95s:
    """Fill in the p95s the grouping sets did not ask for, from what they and the cells say
    (and the cache, for mixed windows and sessions of several cells that gained nothing)."""
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
    p95["window"].update(_reuse(cache, touched, "window", mixed))
    mixed = [w for w in mixed if not _has(cache, touched, "window", w)]
    if mixed:
        p95["window"].update((w, clean([v])[0]) for w, v in
                             con.execute(WINDOW_P95, [width_us, mixed]).fetchall())
    p95["file"] = {fid: clean([cells[m[0]][9]])[0] for fid, m in members["file"].items()}
    multi_cell = [fid for fid, m in members["file"].items() if len(m) > 1]
    p95["file"].update(_reuse(cache, touched, "file", multi_cell))
    multi_cell = [fid for fid in multi_cell if not _has(cache, touched, "file", fid)]
    if multi_cell:
        p95["file"].update((fid, clean([v])[0]) for fid, v in
                           con.execute(FILE_P95, [multi_cell]).fetchall())
    return p95


def _has(cache: SummaryCache | None, touched: Touched, dimension: str, key: Any) -> bool:
    return (cache is not None and touched is not None and key not in touched[dimension]
            and cache.cached_p95(dimension, key)[0])


def _reuse(cache: SummaryCache | None, touched: Touched, dimension: str,
           keys: list[Any]) -> dict[Any, float | None]:
    """The cached p95s of the groups among `keys` that gained no records."""
    if cache is None:
        return {}
    return {k: cache.cached_p95(dimension, k)[1] for k in keys
            if _has(cache, touched, dimension, k)}
