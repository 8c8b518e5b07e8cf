"""`clamp update`: refresh the matrix's pins, pinning only candidates that verified."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from clamp.cli.common import INSECURE_OPTION, MATRIX_OPTION, concurrency_option

if TYPE_CHECKING:
    from clamp.update.report import EntryReport
    from clamp.update.run import UpdateRun

ENTRIES_ENV = "CLAMP_UPDATE_ENTRIES"
REASONS_ENV = "CLAMP_UPDATE_REASONS"
OUTCOME_STYLE = {"updated": "green", "added": "green", "current": "dim", "missing": "yellow",
                 "rejected": "red", "error": "magenta"}


def update(
    matrix: Path = MATRIX_OPTION,
    entries: str | None = typer.Option(
        None, "--entries", help="Comma-separated entry ids to refresh (default: all; also "
        f"{ENTRIES_ENV}, as set by the update workflow's dispatch)."),
    version: str | None = typer.Option(None, "--version", help="Only entries of this version."),
    os_name: str | None = typer.Option(None, "--os", help="Only entries on this OS."),
    discover: bool = typer.Option(False, "--discover", help="Also look for newer releases "
                                  "(tags fitting the tag template with a higher version, per "
                                  "OS) and add the newest that verifies as a new entry."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the diff; write nothing."),
    pr_body: Path | None = typer.Option(None, "--pr-body", help="Write a Markdown pull request "
                                        "body here."),
    provenance_output: Path | None = typer.Option(
        None, "--provenance-output", help="Write the candidates' verification evidence "
        "(rocm_provenance.json format) here."),
    concurrency: int = concurrency_option("Entries examined at once"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    insecure: list[str] = INSECURE_OPTION,
) -> int:
    """Pin what each entry's tag names now (and, with --discover, newer releases) if it
    verifies against the entry's trust policy, exactly as `clamp verify` checks it.

    Every pin is verified again, whether or not its tag moved. Exit codes: 0 nothing to do;
    10 matrix updated; 7 updated, but some candidates were rejected; 6 candidates found but
    none verified (nothing pinned); 9 a pin no longer verifies and nothing verified replaced
    it (what did verify is still written); 69 registry error and nothing verified; 75 the
    matrix changed while running (not overwritten); 64 bad input.
    """
    import os

    from clamp.cli.aio import run as run_async
    from clamp.cli.common import client_options, load_matrix, matrix_registries

    loaded = load_matrix(matrix)  # bad input fails before the network and crypto stacks load

    # Every output is checked before anything is fetched or written (docs/update.md).
    from clamp.atomic import check_outputs
    from clamp.cli.common import matrix_inputs
    from clamp.exitcodes import for_update
    from clamp.oci.store import Stores
    from clamp.update import evidence, prbody
    from clamp.update.run import parse_entry_list, run_update

    check_outputs([("--pr-body", pr_body), ("--provenance-output", provenance_output)],
                  matrix_inputs(loaded))

    wanted = parse_entry_list(entries if entries is not None else os.environ.get(ENTRIES_ENV))
    # Free text from the dispatch, quoted into the PR body: bytes that are not UTF-8 become
    # U+FFFD rather than surrogates no file can hold.
    raw_reasons = os.environb.get(REASONS_ENV.encode(), b"").decode("utf-8", "replace")
    reasons = " ".join(raw_reasons.split()) or None

    async def go() -> UpdateRun:
        async with Stores(client_options(insecure, concurrency,
                                         registries=matrix_registries(loaded))) as stores:
            return await run_update(loaded, stores, exit_code_of=for_update,
                                    entry_ids=wanted, version=version,
                                    os_name=os_name, discover_newer=discover, dry_run=dry_run,
                                    reasons=reasons, concurrency=concurrency,
                                    evidence=outputs)

    def outputs(run: UpdateRun) -> list[tuple[Path, str]]:
        files: list[tuple[Path, str]] = []
        if pr_body is not None:
            files.append((pr_body, prbody.render(run.report)))
            run.report.pr_body = str(pr_body)
        if provenance_output is not None:
            files.append((provenance_output, evidence.render(run)))
            run.report.provenance = str(provenance_output)
        return files

    from clamp.cli.output import busy

    with busy(f"checking {matrix} against its registries…"):
        run = run_async(go())
    report = run.report
    if as_json:
        import sys

        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        _human(run)
    _github(run)
    return int(run.exit_code)


def _human(run: UpdateRun) -> None:
    import sys

    from clamp.cli.output import err_console, out_console, visible

    report = run.report
    # Under --dry-run stdout carries only the diff, so `> change.patch` gives a clean patch.
    console = err_console() if report.dry_run else out_console()
    if console.is_terminal:
        _table(run, console)
    else:
        for item in report.entries:
            console.print(visible(_line(item)), markup=False, highlight=False)
    c = report.counts
    verb = "would change" if report.dry_run else "changed"
    said = (f"{report.matrix}: {verb}" if report.changed else f"{report.matrix}: unchanged")
    console.print(f"{said} — {c.updated} re-pinned, {c.added} new, {c.rejected} rejected, "
                  f"{c.errors} errors, {c.current} current, {c.missing} tag missing, "
                  f"{c.unverified} pins no longer verify "
                  f"(exit {report.exit_code}: {report.status})", markup=False, highlight=False)
    from clamp.cli.output import error

    for item in report.entries:
        if item.unverified_pin:
            error(f"{item.entry}: pin {item.old_digest} no longer verifies and nothing verified "
                  f"replaced it ({item.pin_reason})")
    if report.dry_run and report.diff:
        sys.stdout.write(report.diff)


def _line(item: EntryReport) -> str:
    from clamp.update.prbody import how_verified

    text = f"{item.entry}: {item.outcome}"
    if item.outcome in ("updated", "added"):
        text += f" {item.old_digest or '(unpinned)'} -> {item.new_digest}"
        text += f" [{how_verified(item).replace('`', '')}]"
    elif item.outcome in ("rejected", "error", "missing"):
        text += f" {item.new_digest or ''} ({item.check}: {item.reason})"
    if item.unverified_pin:
        text += f" [pin does not verify: {item.pin_reason}]"
    return " ".join(text.split())


def _table(run: UpdateRun, console: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from clamp.cli.output import cell as escape
    from clamp.update.prbody import how_verified

    assert isinstance(console, Console)
    table = Table(title=escape(f"clamp update — {run.report.matrix}"))
    for column in ("entry", "outcome", "old digest", "new digest", "how / why"):
        table.add_column(column, overflow="fold")
    for item in run.report.entries:
        style = OUTCOME_STYLE.get(item.outcome, "")
        detail = (how_verified(item).replace("`", "") if item.signing
                  else f"{item.check or ''}: {item.reason or ''}".strip(": "))
        new = "(same)" if item.outcome == "current" else _short(item.new_digest)
        table.add_row(escape(item.entry), f"[{style}]{item.outcome}[/]",
                      escape(_short(item.old_digest)), escape(new), escape(detail))
    console.print(table)


def _short(digest: str | None) -> str:
    """`sha256:` and 12 hex digits: enough to tell pins apart in a table (JSON has them whole)."""
    if not digest:
        return "—"
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}…" if len(hexpart) > 12 else digest


def _github(run: UpdateRun) -> None:
    from clamp.cli.output import gha_annotation, gha_set_outputs, in_github_actions

    if not in_github_actions():
        return
    report = run.report
    for item in report.entries:
        source = item.source or item.entry
        line = run.loaded.entry_line(source) if source in run.loaded.entry_ids else None
        if item.unverified_pin:
            gha_annotation("error", f"{item.entry}: pin {item.old_digest} no longer verifies "
                           f"and nothing verified replaced it ({item.pin_reason})",
                           file=report.matrix, line=line, title="clamp update: pin unverified")
        if item.outcome not in ("rejected", "error"):
            continue
        gha_annotation("warning", f"{item.entry}: candidate {item.new_digest or '?'} not "
                       f"pinned ({item.check}: {item.reason})", file=report.matrix, line=line,
                       title="clamp update")
    changed = [i.entry for i in report.entries if i.outcome in ("updated", "added")]
    rejected = [i.entry for i in report.entries if i.outcome == "rejected"]
    unverified = [i.entry for i in report.entries if i.unverified_pin]
    gha_set_outputs({
        "updated": str(len(changed)), "rejected": str(len(rejected)),
        "updated_entries": ",".join(changed), "rejected_entries": ",".join(rejected),
        "unverified_entries": ",".join(unverified),
        "changed": "true" if report.changed and report.written else "false",
        "pr_body": report.pr_body or "", "status": report.status})


def register(app: typer.Typer) -> None:
    from clamp.cli.registry_flags import with_registry_flags

    app.command("update")(with_registry_flags(update))
