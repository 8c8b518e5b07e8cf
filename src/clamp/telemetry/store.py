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

import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clamp.errors import BadInputError, ConflictError
from clamp.telemetry import store_sql, summary_cache
from clamp.telemetry.jsonfile import first_line
from clamp.telemetry.sessions import MAX_SESSION, REASONS, SessionRead, read_session_file

if TYPE_CHECKING:
    import duckdb

BATCH_FILES = 10_000  # one statement parallelises best; a bad file costs a re-read of its batch
BIG_BATCH_FILES = 8  # files past DuckDB's default JSON value limit, read together
MAX_ISOLATED = 8  # bad files set aside by name per batch before halving takes over
_IN_FILE = re.compile(r'file "([^"]+)"')  # "... in file "P" ...", "... reading file "P" ..."


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
        if path.is_symlink():  # as every output (clamp.atomic): never written through a link
            raise BadInputError("cannot open telemetry store: a symbolic link (not followed; "
                                "name its target)", where=str(path))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.con: duckdb.DuckDBPyConnection = duckdb.connect(str(path))
        except duckdb.Error as exc:
            if _is_lock_error(exc):
                raise ConflictError("telemetry store is in use by another process",
                                    where=str(path)) from exc
            advice = "; delete it to rebuild" if path.is_file() else ""
            raise BadInputError(f"cannot open telemetry store ({first_line(exc)}){advice}",
                                where=str(path)) from exc
        except OSError as exc:
            raise BadInputError(f"cannot open telemetry store: {exc.strerror}",
                                where=str(path)) from exc
        self._readers: tuple[tuple[str, str], ...] = store_sql.READERS
        self._schema_paths: dict[str, Path] = {}
        self._seen: dict[str, tuple[int, int]] = {}
        self._refused: dict[str, str] = {}  # files counted corrupt without reading: why
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET enable_progress_bar = false")
        self._ensure_schema()

    def __enter__(self) -> TelemetryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()
        for schema in self._schema_paths.values():
            schema.unlink(missing_ok=True)

    def _ensure_schema(self) -> None:
        self.con.execute(store_sql.SCHEMA + summary_cache.SCHEMA)
        row = self.con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or row[0] != str(store_sql.SCHEMA_VERSION):
            # The store is a cache of the session files: an old layout is rebuilt, not migrated.
            self.con.execute("DROP TABLE IF EXISTS records; DROP TABLE IF EXISTS sessions; "
                             "DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS file_stats;"
                             + "".join(f"DROP TABLE IF EXISTS {t};"
                                       for t in summary_cache.TABLES))
            self.con.execute(store_sql.SCHEMA + summary_cache.SCHEMA)
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)",
                             [str(store_sql.SCHEMA_VERSION)])

    # -- sync -------------------------------------------------------------------------------

    def sync(self, session_files: Iterable[Path | str]) -> IngestStats:
        """Make the store hold exactly `session_files`, reading only new or changed ones."""
        current: dict[str, tuple[int, int]] = {}
        self._refused = {}
        for path in session_files:
            try:
                st = os.stat(path)
            except OSError:
                continue
            name = str(path)
            if not _utf8(name):
                # DuckDB takes only UTF-8 text: the file is listed by a readable spelling of its
                # name and counted corrupt, never read (and never aborts the run).
                name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                self._refused[name] = "file name is not UTF-8"
            elif st.st_size > MAX_SESSION:
                self._refused[name] = f"larger than {MAX_SESSION // 2**20} MiB"
            current[name] = (st.st_size, st.st_mtime_ns)
        self._seen = current
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
        self._delete(removed + changed_ids)
        # Mark pending first: a crash from here on leaves files the next run will redo.
        self._insert_pending(todo)
        return IngestStats(scanned=len(current), ingested=len(todo),
                           unchanged=len(current) - len(todo), removed=len(removed),
                           fallback=self._ingest_all(todo))

    def _ingest_all(self, todo: list[tuple[int, str]]) -> int:
        """Ingest files in batches; files too large for DuckDB's default JSON value limit go in
        batches of their own, with a limit that fits them."""
        limit = store_sql.DEFAULT_MAX_OBJECT
        refused = [(fid, p) for fid, p in todo if p in self._refused]
        self._mark_done([(fid, "corrupt", self._refused[p]) for fid, p in refused])
        todo = [(fid, p) for fid, p in todo if p not in self._refused]
        small = [(fid, p) for fid, p in todo if self._seen[p][0] < limit]
        big = [(fid, p) for fid, p in todo if self._seen[p][0] >= limit]
        fallback = sum(self._ingest(small[i:i + BATCH_FILES])
                       for i in range(0, len(small), BATCH_FILES))
        for i in range(0, len(big), BIG_BATCH_FILES):
            batch = big[i:i + BIG_BATCH_FILES]
            fits = 1 << max(self._seen[p][0] for _, p in batch).bit_length()
            fallback += self._ingest(batch, fits)
        return fallback

    def _delete(self, file_ids: Sequence[int]) -> None:
        """Drop files from the store: their rows in files, sessions and records, and the
        summary cache, which may have counted them (it holds only while files are added)."""
        if file_ids:
            summary_cache.invalidate(self.con)
            for table in ("records", "sessions", "files"):
                self.con.execute(f"DELETE FROM {table} WHERE file_id IN (SELECT unnest($1))",
                                 [list(file_ids)])

    def _insert_pending(self, todo: list[tuple[int, str]]) -> None:
        """Add files about to be read, with the size and mtime seen *before* reading them: a
        file rewritten while it is being read then differs from its record, and the next run
        reads it again (the size and mtime after reading could hide that change)."""
        if not todo:
            return
        ids, paths = (list(c) for c in zip(*todo, strict=True))
        sizes, mtimes = (list(c) for c in zip(*(self._seen[p] for p in paths), strict=True))
        self.con.execute("INSERT INTO files SELECT unnest($1), unnest($2), unnest($3), "
                         "unnest($4), 'pending', NULL", [ids, paths, sizes, mtimes])

    def _ingest(self, batch: list[tuple[int, str]],
                max_object: int = store_sql.DEFAULT_MAX_OBJECT) -> int:
        """Ingest a batch; return how many files needed the reference reader.

        DuckDB's reader stops at the first file it cannot read and names it, so that file is
        set aside and the rest read again: k bad files cost k + 1 reads of the batch. A file
        some other reader accepts (pretty-printed JSON, say) switches the batch to that reader.
        Past `MAX_ISOLATED` bad files, or when the error names no file, the batch is halved.
        """
        pending = list(batch)
        set_aside: list[tuple[int, str]] = []
        set_aside_done: list[int] = []
        while pending:
            failure = self._insert(pending, self._readers[0], max_object)
            if failure is None:
                break
            named = _named_file(failure, pending)
            if named is None and self._insert_with_readers(pending, self._readers[1:],
                                                           max_object) is None:
                break
            if named is None or len(set_aside) >= MAX_ISOLATED:
                if len(pending) == 1:
                    set_aside += pending
                    pending = []
                    break
                half = len(pending) // 2
                return (sum(set_aside_done) + self._ingest_reference(set_aside)
                        + self._ingest(pending[:half], max_object)
                        + self._ingest(pending[half:], max_object))
            pending.remove(named)
            if self._insert_with_readers([named], self._readers, max_object) is None:
                # Another reader reads it, and now comes first: the rest are likely the same.
                fallback_named = self._finish_batch([named])
                set_aside_done.append(fallback_named)
                continue
            set_aside.append(named)
        fallback = sum(set_aside_done) + self._ingest_reference(set_aside)
        if pending:
            fallback += self._finish_batch(pending)
        return fallback

    def _insert(self, batch: list[tuple[int, str]], reader: tuple[str, str],
                max_object: int) -> duckdb.Error | None:
        """Insert `batch` with one reader; its error if it cannot read all of it (the failed
        statement keeps nothing: autocommit)."""
        import duckdb

        paths = [p for _, p in batch]
        sources = [store_sql.glob_literal(p) for p in paths]
        if reader[0] in store_sql.SCHEMA_DOCUMENTS:
            schema = self._schema_file(reader[0])
            if schema is None:
                return duckdb.InvalidInputException(f"no schema file for the {reader[0]} reader")
            sources = [store_sql.glob_literal(str(schema)), *sources]
        try:
            self.con.execute(store_sql.fast_insert(*reader, max_object),
                             [sources, paths, [fid for fid, _ in batch]])
        except duckdb.Error as exc:
            return exc
        except UnicodeError as exc:  # an error message DuckDB built from bytes that are not
            return duckdb.InvalidInputException(f"unreadable DuckDB error: {exc}")  # UTF-8
        return None

    def _insert_with_readers(self, batch: list[tuple[int, str]],
                             readers: Sequence[tuple[str, str]],
                             max_object: int) -> Exception | None:
        """Insert `batch` with the first of `readers` that reads all of it, or return the last
        error. A reader that succeeds is tried first from then on (pretty-printed files come in
        directories of them)."""
        error: Exception | None = RuntimeError("no reader")
        for reader in readers:
            error = self._insert(batch, reader, max_object)
            if error is None:
                self._readers = (reader, *[r for r in self._readers if r != reader])
                return None
        return error

    def _finish_batch(self, batch: list[tuple[int, str]]) -> int:
        """Bookkeeping after a fast insert: session rows, per-file statistics, and the
        reference reader for files the fast path cannot vouch for."""
        ids = [fid for fid, _ in batch]
        self.con.execute(store_sql.BATCH_SCAN, [ids])
        good = {fid for (fid,) in self.con.execute(store_sql.BATCH_GOOD).fetchall()}
        self.con.execute(store_sql.BATCH_KEEP)
        self._mark_done([(fid, "ok", None) for fid, _ in batch if fid in good])
        suspects = [(fid, p) for fid, p in batch if fid not in good]
        if suspects:
            self.con.execute("DELETE FROM records WHERE file_id IN (SELECT unnest($1))",
                             [[fid for fid, _ in suspects]])
        return self._ingest_reference(suspects)

    def _schema_file(self, reader: str) -> Path | None:
        """The one-record file that fixes a reader's types (see `store_sql`); None when no temp
        file can be written, and then only the declared readers are used."""
        if reader not in self._schema_paths:
            try:
                handle, name = tempfile.mkstemp(prefix=f"clamp-schema-{reader}-", suffix=".json")
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(store_sql.SCHEMA_DOCUMENTS[reader])
            except OSError:
                return None
            self._schema_paths[reader] = Path(name)
        return self._schema_paths[reader]

    def _mark_done(self, rows: Sequence[tuple[int, str, str | None]]) -> None:
        """Record files as read: (file id, status, reason)."""
        if not rows:
            return
        if all(status == "ok" and reason is None for _, status, reason in rows):
            self.con.execute("UPDATE files SET status = 'ok' WHERE file_id IN "
                             "(SELECT unnest($1::INTEGER[]))", [[fid for fid, _, _ in rows]])
            return
        ids, statuses, reasons = (list(c) for c in zip(*rows, strict=True))
        self.con.execute(
            "UPDATE files SET status = u.status, reason = u.reason FROM (SELECT unnest($1) "
            "AS file_id, unnest($2) AS status, unnest($3::VARCHAR[]) AS reason) AS u "
            "WHERE files.file_id = u.file_id", [ids, statuses, reasons])

    def _ingest_reference(self, batch: list[tuple[int, str]]) -> int:
        """Read files one by one with the Python reader and store what they hold."""
        if not batch:
            return 0
        done = []
        for fid, path in batch:
            session = read_session_file(Path(path))
            self._store_session(fid, session)
            done.append((fid, "corrupt" if session.corrupt else "ok", session.corrupt))
        self._mark_done(done)
        return len(batch)

    def _store_session(self, fid: int, session: SessionRead) -> None:
        if session.corrupt:
            return
        # A session with no records still names its backend and device: the origin's
        # aggregator counted those toward the directory's label ('mixed' beside another).
        self.con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                         [fid, session.stability_score, session.backend, session.device,
                          session.image, session.image_digest])
        if not session.records:
            return
        cols: list[list[Any]] = [[] for _ in range(7)]
        for rec in session.records:
            extra: dict[str, Any] = {}
            if rec.index == 1:
                extra = {"ss": session.stability_score, "sb": session.backend,
                         "sd": session.device, "si": session.image, "sg": session.image_digest}
            if rec.backend != session.backend:
                extra["rb"] = rec.backend
            if rec.device != session.device:
                extra["rd"] = rec.device
            code = None if rec.reason is None else REASONS.index(rec.reason) + 1
            for i, value in enumerate((fid, rec.index, rec.acquired_at, rec.duration_ms,
                                       rec.stability, code,
                                       json.dumps(extra) if extra else None)):
                cols[i].append(value)
        self.con.execute(
            "INSERT INTO records SELECT unnest($1), unnest($2), "
            "unnest($3::TIMESTAMP[]::TIMESTAMPTZ[]), unnest($4::DOUBLE[]), unnest($5::DOUBLE[]), "
            "unnest($6::UTINYINT[]), unnest($7::VARCHAR[])", cols)

    def record_rows(self) -> list[tuple[Any, ...]]:
        """Every stored record as the reference reader would give it, in file and index order:
        (path, index, acquired_at as naive UTC, duration_ms, stability, backend, device,
        reason)."""
        return self.con.execute(
            "SELECT f.path, r.idx, timezone('UTC', r.acquired_at), r.duration_ms, r.stability, "
            f"r.backend, r.device, r.reason FROM ({store_sql.RECORD_ROWS}) AS r "
            "JOIN files AS f USING (file_id) ORDER BY 1, 2").fetchall()


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _named_file(error: Exception, batch: list[tuple[int, str]]) -> tuple[int, str] | None:
    """The batch entry DuckDB's error message names (`... in file "PATH" ...`), if any."""
    match = _IN_FILE.search(str(error))
    if match is None:
        return None
    named = match.group(1)
    for entry in batch:
        if named in (entry[1], store_sql.glob_literal(entry[1])):
            return entry
    return None

