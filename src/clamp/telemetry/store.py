"""The embedded DuckDB store: incremental ingest of session files.

Why a store at all: a CI team accumulates sessions for months, and re-parsing every file on every
run would cost minutes. A file is identified by path and re-read only when its size or mtime
(nanoseconds) changed, the same test `make` and `git status` trust; a changed file's rows are
replaced, a deleted file's rows dropped.

Ingest runs DuckDB's `read_json` over many files at once (fast, multi-threaded). That reader is
strict, so one bad file fails the whole statement; the batch is then halved until the bad file is
alone, and that file is read by the Python reference reader (`sessions.py`), which reports exactly
what is wrong with it. Crash safety: a file's row in `files` is marked `pending` before its rows
are written and only marked done afterwards, so an interrupted run is repaired by the next one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clamp.errors import BadInputError, ConflictError
from clamp.telemetry import store_sql
from clamp.telemetry.sessions import SessionRead, read_session_file

if TYPE_CHECKING:
    import duckdb

BATCH_FILES = 5000


@dataclass(frozen=True)
class IngestStats:
    """What one ingest did, for progress output and the benchmark."""

    scanned: int
    ingested: int
    unchanged: int
    removed: int
    fallback: int


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


class TelemetryStore:
    """A DuckDB database file holding ingested sessions; use as a context manager."""

    def __init__(self, path: Path) -> None:
        import duckdb

        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.con: duckdb.DuckDBPyConnection = duckdb.connect(str(path))
        except duckdb.Error as exc:
            if _is_lock_error(exc):
                raise ConflictError("telemetry store is in use by another process",
                                    where=str(path)) from exc
            raise BadInputError(f"cannot open telemetry store ({_first_line(exc)}); "
                                "delete it to rebuild", where=str(path)) from exc
        except OSError as exc:
            raise BadInputError(f"cannot open telemetry store: {exc.strerror}",
                                where=str(path)) from exc
        self._formats: tuple[str, ...] = store_sql.FORMATS
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET preserve_insertion_order = false")
        self._ensure_schema()

    def __enter__(self) -> TelemetryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def _ensure_schema(self) -> None:
        self.con.execute(store_sql.SCHEMA)
        row = self.con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or row[0] != str(store_sql.SCHEMA_VERSION):
            # The store is a cache of the session files: an old layout is rebuilt, not migrated.
            self.con.execute("DROP TABLE IF EXISTS records; DROP TABLE IF EXISTS sessions; "
                             "DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS file_stats;")
            self.con.execute(store_sql.SCHEMA)
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)",
                             [str(store_sql.SCHEMA_VERSION)])

    # -- sync -------------------------------------------------------------------------------

    def sync(self, session_files: Iterable[Path | str]) -> IngestStats:
        """Make the store hold exactly `session_files`, reading only new or changed ones."""
        current: dict[str, tuple[int, int]] = {}
        for path in session_files:
            try:
                st = os.stat(path)
            except OSError:
                continue
            current[str(path)] = (st.st_size, st.st_mtime_ns)
        known = {p: (fid, size, mtime, status) for fid, p, size, mtime, status in
                 self.con.execute("SELECT file_id, path, size, mtime_ns, status FROM files")
                 .fetchall()}
        removed = [known[p][0] for p in known if p not in current]
        todo: list[tuple[int, str]] = []
        changed_ids: list[int] = []
        next_id = max((v[0] for v in known.values()), default=0) + 1
        for name in sorted(current):
            size, mtime = current[name]
            old = known.get(name)
            if old is not None and old[1] == size and old[2] == mtime and old[3] != "pending":
                continue
            if old is None:
                file_id, next_id = next_id, next_id + 1
            else:
                file_id = old[0]
                changed_ids.append(file_id)
            todo.append((file_id, name))
        self._delete(removed + changed_ids, drop_files=removed)
        # Mark pending first: a crash from here on leaves files the next run will redo.
        self._upsert_files([(fid, p, -1, -1, "pending", None) for fid, p in todo])
        fallback = 0
        for start in range(0, len(todo), BATCH_FILES):
            fallback += self._ingest(todo[start:start + BATCH_FILES])
        return IngestStats(scanned=len(current), ingested=len(todo),
                           unchanged=len(current) - len(todo), removed=len(removed),
                           fallback=fallback)

    def _delete(self, file_ids: Sequence[int], *, drop_files: Sequence[int]) -> None:
        if file_ids:
            for table in ("records", "sessions", "file_stats"):
                self.con.execute(f"DELETE FROM {table} WHERE file_id IN (SELECT unnest($1))",
                                 [list(file_ids)])
        if drop_files:
            self.con.execute("DELETE FROM files WHERE file_id IN (SELECT unnest($1))",
                             [list(drop_files)])

    def _upsert_files(self, rows: Sequence[tuple[int, str, int, int, str, str | None]]) -> None:
        if not rows:
            return
        columns = list(zip(*rows, strict=True))
        self.con.execute("DELETE FROM files WHERE file_id IN (SELECT unnest($1))",
                         [list(columns[0])])
        self.con.execute(
            "INSERT INTO files SELECT unnest($1), unnest($2), unnest($3), "
            "unnest($4), unnest($5), unnest($6::VARCHAR[])",
            [list(c) for c in columns])

    def _ingest(self, batch: list[tuple[int, str]]) -> int:
        """Ingest a batch; return how many files needed the reference reader."""
        import duckdb

        ids = [fid for fid, _ in batch]
        paths = [p for _, p in batch]
        for fmt in list(self._formats):
            try:
                self.con.execute(store_sql.FAST_INSERT.replace("__FORMAT__", fmt), [paths, ids])
                break
            except duckdb.Error:
                continue  # the failed statement kept nothing (autocommit)
        else:
            # No format reads the whole batch: split until the bad file is alone.
            if len(batch) == 1:
                self._ingest_reference(batch)
                return 1
            half = len(batch) // 2
            return self._ingest(batch[:half]) + self._ingest(batch[half:])
        if fmt != self._formats[0]:
            # Pretty-printed files: try their format first for the rest of this run.
            self._formats = (fmt, *[f for f in self._formats if f != fmt])
        self.con.execute(store_sql.BATCH_SCAN, [ids])
        firsts = dict(self.con.execute(store_sql.BATCH_FIRSTS).fetchall())
        self.con.execute(store_sql.BATCH_KEEP)
        suspects = {fid for fid in ids if firsts.get(fid) != 1}
        self._mark_done([(fid, p, "ok", None) for fid, p in batch if fid not in suspects])
        if suspects:
            again = [(fid, p) for fid, p in batch if fid in suspects]
            self.con.execute("DELETE FROM records WHERE file_id IN (SELECT unnest($1))",
                             [list(suspects)])
            self._ingest_reference(again)
        return len(suspects)

    def _mark_done(self, rows: Sequence[tuple[int, str, str, str | None]]) -> None:
        out = []
        for fid, path, status, reason in rows:
            try:
                st = os.stat(path)
                out.append((fid, path, st.st_size, st.st_mtime_ns, status, reason))
            except OSError:
                out.append((fid, path, -1, -1, "corrupt", "vanished while reading"))
        self._upsert_files(out)

    def _ingest_reference(self, batch: list[tuple[int, str]]) -> None:
        """Read files one by one with the Python reader and store what they hold."""
        done = []
        for fid, path in batch:
            session = read_session_file(Path(path))
            self._store_session(fid, session)
            done.append((fid, path, "corrupt" if session.corrupt else "ok", session.corrupt))
        self.con.execute(store_sql.FILE_STATS, [[fid for fid, _ in batch]])
        self._mark_done(done)

    def _store_session(self, fid: int, session: SessionRead) -> None:
        if session.corrupt or not session.records:
            return
        self.con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                         [fid, session.stability_score, session.backend, session.device,
                          session.image, session.image_digest])
        cols: list[list[Any]] = [[] for _ in range(8)]
        for rec in session.records:
            for i, value in enumerate((fid, rec.index, rec.acquired_at, rec.duration_ms,
                                       rec.stability, rec.backend, rec.device, rec.reason)):
                cols[i].append(value)
        self.con.execute(
            "INSERT INTO records SELECT unnest($1), unnest($2), "
            "unnest($3::TIMESTAMP[]::TIMESTAMPTZ[]), unnest($4::DOUBLE[]), unnest($5::DOUBLE[]), "
            "unnest($6::VARCHAR[]), "
            "unnest($7::VARCHAR[]), unnest($8::VARCHAR[]), NULL, NULL, NULL, NULL, NULL",
            cols)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
