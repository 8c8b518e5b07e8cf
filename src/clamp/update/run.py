"""A whole `clamp update` run: select, examine (and discover), decide, rewrite, report.

The order is fixed and fail-closed: nothing is written until every selected entry has been
examined, the new text has been reloaded and checked, and the file is still the one read. The run
ends in a typed status (`Status`); the exit code is the face's, handed in as `exit_code_of`, so
the report and the provenance record the number the process exits with.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from clamp import __version__
from clamp.errors import BadInputError
from clamp.matrix import ImageEntry, LoadedMatrix
from clamp.oci.store import Stores
from clamp.update.candidates import Examined, discover, examine
from clamp.update.commit import write_together
from clamp.update.decision import Pin, counts, entry_report, plan, run_status
from clamp.update.discover import release_lines
from clamp.update.report import Kind, Status, UpdateReport
from clamp.update.rewrite import render, write_matrix
from clamp.verify.policy import PolicyCache


@dataclass
class UpdateRun:
    loaded: LoadedMatrix
    examined: list[Examined]
    pins: list[Pin]
    text: str
    report: UpdateReport
    status: Status
    exit_code: int  # the face's code for `status`, as recorded in `report.exit_code`


def parse_entry_list(text: str | None) -> list[str] | None:
    """`"6.4.4/ubuntu-22.04, 6.3.4/ubuntu-22.04"` -> ids; None or blank -> None (all)."""
    if text is None:
        return None
    ids = [part.strip() for part in text.replace("\n", ",").split(",")]
    ids = [part for part in ids if part]
    return list(dict.fromkeys(ids)) or None


def select_entries(loaded: LoadedMatrix, entry_ids: Sequence[str] | None,
                   version: str | None, os_name: str | None) -> list[ImageEntry]:
    """Entries to examine: the ids given, else those matching version/OS, else all of them
    (unpinned entries included: they get pinned when their tag verifies)."""
    if entry_ids:
        if version or os_name:
            raise BadInputError("give entry ids or --version/--os, not both")
        return [loaded.entry(entry_id) for entry_id in entry_ids]
    return loaded.matching(version, os_name)


async def examine_all(loaded: LoadedMatrix, stores: Stores, entries: Sequence[ImageEntry], *,
                      discover_newer: bool, today: date,
                      concurrency: int = 16) -> list[Examined]:
    """Examine the entries (and discovered releases) concurrently; results in a stable order:
    the entries in matrix order, then discoveries in release-line order."""
    cache = PolicyCache(loaded)
    trusts = {entry.id: cache.for_entry(entry) for entry in entries}  # bad keys fail up front
    gate = asyncio.Semaphore(concurrency)

    async def one(entry: ImageEntry) -> Examined:
        kind: Kind = "pinned" if entry.digest is not None else "unpinned"
        async with gate:
            return await examine(stores, loaded, entry, trusts[entry.id], kind=kind,
                                 today=today)

    lines = release_lines(loaded, list(entries)) if discover_newer else []
    tags_cache: dict[tuple[int, str], asyncio.Task[list[str]]] = {}

    async def newer(index: int) -> list[Examined]:
        line = lines[index]
        async with gate:
            return await discover(stores, loaded, line, cache.for_entry(line.newest), tags_cache,
                                  today=today)

    found, discovered = await asyncio.gather(
        asyncio.gather(*(one(e) for e in entries)),
        asyncio.gather(*(newer(i) for i in range(len(lines)))))
    return [*found, *(item for group in discovered for item in group)]


async def run_update(loaded: LoadedMatrix, stores: Stores, *,
                     exit_code_of: Callable[[Status], int],
                     entry_ids: Sequence[str] | None = None, version: str | None = None,
                     os_name: str | None = None, discover_newer: bool = False,
                     dry_run: bool = False, reasons: str | None = None,
                     today: date | None = None, now: datetime | None = None,
                     concurrency: int = 16,
                     before_write: Callable[[Path], None] | None = None,
                     evidence: Callable[[UpdateRun], Sequence[tuple[Path, str]]] | None = None,
                     ) -> UpdateRun:
    """Examine, pin what verified, and (unless `dry_run`) write the matrix guarded.

    `evidence(run)` names files (PR body, provenance) to be written with the matrix as one
    unit (`clamp.update.commit`): first, and undone if the matrix write fails."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    day = today or moment.date()
    entries = select_entries(loaded, entry_ids, version, os_name)
    examined = await examine_all(loaded, stores, entries, discover_newer=discover_newer,
                                 today=day, concurrency=concurrency)
    pins = plan(examined, today=day, now=moment)
    text = render(loaded, pins)
    changed = text != loaded.text
    reports = [entry_report(item) for item in examined]
    status = run_status(reports)
    code = exit_code_of(status)
    report = UpdateReport(
        tool_version=__version__, generated_at=moment, matrix=str(loaded.path),
        layout=loaded.layout, sha256_before=loaded.sha256,
        sha256_after=_sha256(text) if changed else loaded.sha256, discover=discover_newer,
        dry_run=dry_run, requested_entries=list(entry_ids) if entry_ids else None,
        requested_reasons=reasons or None, changed=changed, written=changed and not dry_run,
        status=status, exit_code=int(code), counts=counts(reports), entries=reports,
        diff=unified_diff(loaded, text) if dry_run and changed else None)
    run = UpdateRun(loaded, examined, pins, text, report, status, code)
    commit = None
    if changed and not dry_run:
        def commit() -> None:
            write_matrix(loaded, text, before_write=before_write)
    write_together(evidence(run) if evidence else [], commit)
    return run


def unified_diff(loaded: LoadedMatrix, text: str) -> str:
    name = loaded.path.as_posix()
    old, new = (name, name) if loaded.path.is_absolute() else (f"a/{name}", f"b/{name}")
    return "".join(difflib.unified_diff(loaded.text.splitlines(keepends=True),
                                        text.splitlines(keepends=True),
                                        fromfile=old, tofile=new))


def _sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()
