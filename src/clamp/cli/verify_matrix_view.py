"""`clamp verify --matrix`: run the pipeline, write the provenance, and tell the user and CI."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from clamp.cli.aio import run as run_async

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.progress import Progress

    from clamp.trust.keys import PrivateKeyTypes
    from clamp.verify.pipeline import EntryOutcome
    from clamp.verify.run import MatrixRun

DECISION_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "update": "cyan"}
STATUS_STYLE = {"valid": "green", "unsigned": "yellow", "invalid": "red",
                "identity_mismatch": "red", "error": "magenta"}


def run_verify_matrix(matrix: Path, *, version: str | None, os_name: str | None, output: Path,
                      dispatch: bool, concurrency: int, as_json: bool,
                      insecure: list[str], sarif: Path | None = None, vsa: Path | None = None,
                      vsa_key: Path | None = None, attach: bool = False) -> int:
    from clamp.cli.common import client_options, load_matrix, matrix_inputs, matrix_registries

    loaded = load_matrix(matrix)  # bad input fails before the network and crypto stacks load
    signer = _vsa_signer(vsa_key) if vsa_key is not None else None  # a bad key fails first too
    from clamp.atomic import check_outputs

    # And so does an output path that cannot be written, or would overwrite an input (`-o`
    # naming the matrix replaced it with the provenance) or another output.
    inputs = matrix_inputs(loaded) + ([("--vsa-key", vsa_key)] if vsa_key is not None else [])
    check_outputs([("--output", output), ("--sarif", sarif), ("--vsa", vsa)], inputs)

    from clamp.exitcodes import for_matrix
    from clamp.oci.store import Stores
    from clamp.verify.run import run_matrix

    total = len(loaded.matching(version, os_name, pinned_only=True))
    progress, advance = _progress(total, enabled=not as_json)

    async def run() -> MatrixRun:
        async with Stores(client_options(insecure, concurrency,
                                         registries=matrix_registries(loaded))) as stores:
            result = await run_matrix(loaded, stores, exit_code_of=for_matrix,
                                      version=version, os_name=os_name,
                                      concurrency=concurrency, force_dispatch=dispatch,
                                      on_done=advance)
            if attach and signer is not None:  # the outputs first: they hold even if a push fails
                from clamp.cli.output import info
                from clamp.verify.vsa_attach import attach_vsas

                write_outputs(result, output, sarif=sarif,
                              vsa=(vsa, signer) if vsa is not None else None)
                for line in await attach_vsas(stores, result.document, result.outcomes, signer):
                    info(line)
            return result

    try:
        result = run_async(run())
    finally:
        if progress is not None:
            progress.stop()
    if not attach:  # with --attach they were written before the pushes
        write_outputs(result, output, sarif=sarif,
                      vsa=(vsa, signer) if vsa is not None and signer is not None else None)
    if as_json:
        sys.stdout.write(result.document.model_dump_json(indent=2) + "\n")
    else:
        render_table(result)
        _closing(result, output)
    _warnings_line(result)
    _github(result, output)
    return int(result.exit_code)


def _warnings_line(result: MatrixRun) -> None:
    """Warnings exit 0, so they are said on stderr (and in annotations and `status`)."""
    from clamp.cli.output import warn

    if result.document.status != "warnings":
        return
    warned = [r.entry for r in result.document.records if r.policyDecision in ("warn", "update")]
    parts = []
    if warned:
        parts.append(f"{len(warned)} entries with warnings ({', '.join(warned)})")
    if result.document.skipped:
        parts.append(f"{len(result.document.skipped)} unpinned entries not verified")
    warn(f"clamp verify passed with warnings: {'; '.join(parts)} (exit 0)")


def _vsa_signer(key: Path) -> PrivateKeyTypes:
    from clamp.cli.trust_flags import password, read_file
    from clamp.trust.keyfile import decrypt_private_key

    return decrypt_private_key(read_file(key, "private key", 64 * 1024), password(confirm=False),
                               where=str(key))


def write_outputs(result: MatrixRun, output: Path, *, sarif: Path | None,
                  vsa: tuple[Path, PrivateKeyTypes] | None = None) -> None:
    """The provenance and what is derived from it (SARIF, VSAs), written as one unit."""
    from clamp.atomic import write_atomic_group
    from clamp.verify.provenance import document_text

    files: list[tuple[Path, str | bytes]] = [(output, document_text(result.document))]
    if sarif is not None:
        from clamp.verify.sarif import sarif_text

        files.append((sarif, sarif_text(result)))
    if vsa is not None:
        from clamp.verify.vsa import vsa_lines

        files.append((vsa[0], vsa_lines(result.document, vsa[1])))
    write_atomic_group(files)


def _progress(total: int, *, enabled: bool
              ) -> tuple[Progress | None, Callable[[EntryOutcome], None] | None]:
    """A progress bar on a TTY (stderr); a no-op callback elsewhere."""
    if not enabled or not sys.stderr.isatty() or total < 2:
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from clamp.cli.output import err_console

    bar = Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.description}"), console=err_console(), transient=True)
    task = bar.add_task("", total=total)
    bar.start()

    def advance(outcome: EntryOutcome) -> None:
        bar.update(task, advance=1, description=outcome.entry.id)

    return bar, advance


def render_table(result: MatrixRun) -> None:
    from rich.table import Table

    from clamp.cli.output import cell, out_console

    table = Table(title=cell(f"clamp verify — {result.loaded.path}"))
    for column in ("entry", "digest", "signature", "signer", "tag", "decision"):
        table.add_column(column, overflow="fold")
    for record in result.document.records:
        signer = record.identity or (f"key {record.keyFingerprint[:16]}…"
                                     if record.keyFingerprint else "—")
        tag = (record.tagState or "—") + (" (stale)" if record.stale else "")
        table.add_row(cell(record.entry), cell((record.digest or "")[:19]) + "…",
                      f"[{STATUS_STYLE[record.trustStatus]}]{record.trustStatus}[/]", cell(signer),
                      cell(tag),
                      f"[{DECISION_STYLE[record.policyDecision]}]{record.policyDecision}[/]")
    out_console().print(table)


def _closing(result: MatrixRun, output: Path) -> None:
    from clamp.cli.output import info

    for record in result.document.records:
        if record.policyDecision != "pass":
            info(f"  {record.entry}: {record.policyPath}")
    summary = result.document.summary
    dispatch = result.document.dispatch
    if result.document.skipped:
        info(f"not verified (unpinned): {', '.join(result.document.skipped)}")
    if dispatch is not None:
        info(f"dispatch {dispatch.workflow}: {dispatch.status}"
             + (f" ({dispatch.error})" if dispatch.error else ""))
    info(f"{summary.total} entries: {summary.valid} valid, {summary.passed} passed, "
         f"{summary.warned} warned, {summary.failed} failed, {summary.updates} to update; "
         f"provenance written to {output} (exit {int(result.exit_code)}: "
         f"{result.document.status})")


def _github(result: MatrixRun, output: Path) -> None:
    from clamp.cli.output import (
        gha_annotation,
        gha_set_outputs,
        gha_step_summary,
        in_github_actions,
    )

    if not in_github_actions():
        return
    failed: list[str] = []
    for record in result.document.records:
        if record.policyDecision == "pass":
            continue
        level = "error" if record.policyDecision == "fail" else "warning"
        if record.policyDecision == "fail":
            failed.append(record.entry)
        file, line = _location(result, record.entry)
        gha_annotation(level, f"{record.entry} ({record.image}): {record.policyPath}",
                       file=file, line=line, title=f"clamp verify: {record.trustStatus}")
    for skipped in result.document.skipped:
        file, line = _location(result, skipped)
        gha_annotation("warning", f"{skipped}: unpinned, not verified", file=file, line=line,
                       title="clamp verify: unpinned")
    gha_step_summary(step_summary(result))
    gha_set_outputs({"status": result.document.status, "failed": ",".join(failed),
                     "provenance": str(output)})


def _location(result: MatrixRun, entry_id: str) -> tuple[str, int | None]:
    return str(result.loaded.path), result.loaded.entry_line(entry_id)


def step_summary(result: MatrixRun) -> str:
    """The run's table for GITHUB_STEP_SUMMARY. Signer identities come from certificates and
    entry ids from the matrix: both are shown as text, never rendered (clamp.cli.output)."""
    from clamp.cli.output import md_code, md_text

    lines = [f"### clamp verify: {result.document.status}", "",
             "| entry | image | trust | signer | tag | decision |",
             "|---|---|---|---|---|---|"]
    for r in result.document.records:
        signer = (md_text(r.identity) if r.identity else
                  f"key {md_code(r.keyFingerprint[:16])}" if r.keyFingerprint else "—")
        tag = (r.tagState or "—") + (" (stale)" if r.stale else "")
        lines.append(f"| {md_text(r.entry)} | {md_code(r.image)} | {r.trustStatus} | {signer} "
                     f"| {tag} | **{r.policyDecision}** |")
    return "\n".join(lines) + "\n"

