"""What the last summary computed, kept in the store so the next one redoes only what changed.

Why: an incremental accumulate adds a few session files to millions of records, and a summary
recomputed from scratch costs the same as a cold one (p95s do not merge, so every breakdown's
were gathered again). The store keeps, for the window width of the last summary:
- the (session, window) *cells* (`breakdowns.CUBE`), so only new files' cells are computed;
- every group's p95 (and the origin's drift percentile), so only groups that gained records
  are asked again, from all their records: the same values a full recompute gives;
- the like-with-like sides of the changes (`stratified.side_stats`), reused when their window
  and image gained nothing;
- the (file, digest, trust group, backend, device) attributes they were computed under.

The cache holds only while the store has only *gained* files since: `TelemetryStore` drops it
whenever it deletes a file's rows (a file changed or removed), and it is dropped too when the
window width differs or any old file's attributes differ (new provenance evidence moves a
session to another trust group, say). It is marked valid last, after everything is written, so
a run interrupted while writing it leaves it invalid and the next run recomputes everything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

#: Created with the store's tables (`store_sql.SCHEMA`); dropped and rebuilt with them.
SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS cache_sess (
    file_id INTEGER, digest VARCHAR, tgroup VARCHAR, backend VARCHAR, device VARCHAR);
CREATE TABLE IF NOT EXISTS cache_cells (
    file_id INTEGER, w BIGINT, rb VARCHAR, rd VARCHAR, n BIGINT, mean DOUBLE, var DOUBLE,
    first TIMESTAMP, last TIMESTAMP, p95 DOUBLE);
CREATE TABLE IF NOT EXISTS cache_p95 (dim VARCHAR, key VARCHAR, p95 DOUBLE);
CREATE TABLE IF NOT EXISTS cache_strata (
    w BIGINT, digest VARCHAR, side_n BIGINT, backend VARCHAR, device VARCHAR, n BIGINT,
    mean DOUBLE, var DOUBLE, p95 DOUBLE, sample DOUBLE[]);
"""
TABLES = ("cache_meta", "cache_sess", "cache_cells", "cache_p95", "cache_strata")

#: Old files whose attributes differ from the ones the cache was computed under (or are gone).
_STALE = """
SELECT count(*) FROM cache_sess AS c LEFT JOIN sess AS s USING (file_id)
WHERE s.file_id IS NULL OR c.digest IS DISTINCT FROM s.digest
   OR c.tgroup IS DISTINCT FROM s.tgroup OR c.backend IS DISTINCT FROM s.backend
   OR c.device IS DISTINCT FROM s.device
"""
_NEW = "SELECT file_id FROM sess WHERE file_id NOT IN (SELECT file_id FROM cache_sess)"


def key_text(key: Any) -> str:
    """A group key as the cache stores it (tuples and lists alike as JSON arrays)."""
    return json.dumps(key)


def invalidate(con: duckdb.DuckDBPyConnection) -> None:
    """Forget the cache (the store deleted rows it may have been computed from)."""
    con.execute("DELETE FROM cache_meta")


@dataclass
class SummaryCache:
    """The cache as one summary sees it: `valid` when it can be reused, and then which files
    are new since; what the summary computes goes into `p95` and `strata` to be saved."""

    width_us: int
    valid: bool = False
    new_ids: list[int] = field(default_factory=list)
    p95: dict[str, dict[str, float | None]] = field(default_factory=dict)
    strata: list[tuple[Any, ...]] = field(default_factory=list)
    #: (window bucket, digest) groups that gained records (`breakdowns.grouped` sets it).
    touched_sides: set[tuple[Any, Any]] = field(default_factory=set)
    computed_p95: dict[str, dict[Any, float | None]] = field(default_factory=dict)
    computed_strata: list[tuple[Any, ...]] = field(default_factory=list)

    def cached_p95(self, dim: str, key: Any) -> tuple[bool, float | None]:
        """(found, value) of a group's p95 in the cache."""
        groups = self.p95.get(dim)
        text = key_text(key)
        if not self.valid or groups is None or text not in groups:
            return False, None
        return True, groups[text]

    @property
    def unchanged(self) -> bool:
        """Nothing new since the cached summary: every cached figure holds as it is."""
        return self.valid and not self.new_ids


def open_cache(con: duckdb.DuckDBPyConnection, width_us: int) -> SummaryCache:
    """The cache for a summary over the store's current `sess` table (see `queries`)."""
    cache = SummaryCache(width_us)
    row = con.execute("SELECT value FROM cache_meta WHERE key = 'width_us'").fetchone()
    stale = con.execute(_STALE).fetchone()
    if row is None or row[0] != str(width_us) or stale is None or stale[0] != 0:
        for table in TABLES:
            con.execute(f"DELETE FROM {table}")
        return cache
    cache.valid = True
    cache.new_ids = sorted(fid for (fid,) in con.execute(_NEW).fetchall())
    for dim, key, value in con.execute("SELECT dim, key, p95 FROM cache_p95").fetchall():
        cache.p95.setdefault(dim, {})[key] = value
    cache.strata = con.execute("SELECT * FROM cache_strata").fetchall()
    if cache.new_ids:
        invalidate(con)  # until `save` has written what this summary adds
    return cache


def save(con: duckdb.DuckDBPyConnection, cache: SummaryCache) -> None:
    """Store this summary's p95s and change sides, the attributes they hold for, and mark the
    cache valid (last). Cells are written as they are computed (`breakdowns.grouped`)."""
    if cache.unchanged:
        return
    p95, strata = cache.computed_p95, cache.computed_strata
    rows = [(dim, key_text(key), value) for dim, groups in p95.items()
            for key, value in groups.items()]
    con.execute("DELETE FROM cache_p95")
    if rows:
        dims, keys, values = (list(c) for c in zip(*rows, strict=True))
        con.execute("INSERT INTO cache_p95 SELECT unnest($1), unnest($2), "
                    "unnest($3::DOUBLE[])", [dims, keys, values])
    con.execute("DELETE FROM cache_strata")
    if strata:
        cols = [list(c) for c in zip(*strata, strict=True)]
        con.execute("INSERT INTO cache_strata SELECT unnest($1::BIGINT[]), "
                    "unnest($2::VARCHAR[]), unnest($3::BIGINT[]), unnest($4::VARCHAR[]), "
                    "unnest($5::VARCHAR[]), unnest($6::BIGINT[]), unnest($7::DOUBLE[]), "
                    "unnest($8::DOUBLE[]), unnest($9::DOUBLE[]), unnest($10::DOUBLE[][])",
                    cols)
    con.execute("DELETE FROM cache_sess")
    con.execute("INSERT INTO cache_sess SELECT file_id, digest, tgroup, backend, device "
                "FROM sess")
    con.execute("INSERT OR REPLACE INTO cache_meta VALUES ('width_us', ?)",
                [str(cache.width_us)])
