"""`clamp resolve`: which image CI runs, as `registry/repository:tag@digest`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from clamp.cli.common import INSECURE_OPTION, MATRIX_OPTION, load_matrix, print_json
from clamp.exitcodes import ExitCode

if TYPE_CHECKING:
    from clamp.matrix import LoadedMatrix
    from clamp.verify.entry import TagCheck


def resolve(
    matrix: Path = MATRIX_OPTION,
    version: str | None = typer.Option(None, "--version", help="Pick this ROCm version."),
    os_name: str | None = typer.Option(None, "--os", help="Pick this OS."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
    check: bool = typer.Option(False, "--check", help="Ask the registry whether each pinned "
                               "tag still names its pin (drift, missing tags, stale pins)."),
    strategy_matrix: bool = typer.Option(False, "--strategy-matrix", help="Print every pinned "
                                         "entry as a GitHub Actions strategy.matrix JSON."),
    insecure: list[str] = INSECURE_OPTION,
) -> int:
    """Choose the image CI runs, as the original resolver did, and print it pinned by digest.

    No network access unless --check. Exit codes with --check: 0 all current (stale pins are
    warned about on stderr), 8 drift or a missing tag, 69 registry unreachable.
    """
    loaded = load_matrix(matrix)
    if check:
        return _check(loaded, as_json, insecure)
    if strategy_matrix:
        return _strategy(loaded)
    from clamp.cli.output import gha_set_outputs
    from clamp.matrix import select_image

    chosen = select_image(loaded.model, version, os_name)
    for message in chosen.warnings:
        from clamp.cli.output import warn

        warn(message)
    ref = chosen.ref
    entry = chosen.entry
    if as_json:
        print_json({"reference": ref.reference, "image": ref.tag_reference,
                    "digest": ref.digest, "version": entry.version, "os": entry.os,
                    "platform": entry.platform, "platformDigest": entry.platform_digest,
                    "registry": ref.registry, "repository": ref.repository, "tag": ref.tag,
                    "entry": entry.id, "reason": chosen.reason})
    else:
        print(ref.reference)
    gha_set_outputs({"image": ref.reference, "digest": ref.digest or "",
                     "version": entry.version, "os": entry.os})
    return ExitCode.OK


def _strategy(loaded: LoadedMatrix) -> int:
    from clamp.matrix import image_ref

    include: list[dict[str, Any]] = []
    for entry in loaded.model.images:
        if entry.digest is None:
            continue
        ref = image_ref(loaded.model, entry)
        item: dict[str, Any] = {"version": entry.version, "os": entry.os,
                                "image": ref.reference, "digest": entry.digest}
        if entry.platform:
            item["platform"] = entry.platform
        include.append(item)
    text = json.dumps({"include": include}, separators=(",", ":"))
    print(text)
    from clamp.cli.output import gha_set_outputs

    gha_set_outputs({"matrix": text})
    return ExitCode.OK


def _check(loaded: LoadedMatrix, as_json: bool, insecure: list[str]) -> int:
    from clamp.cli.aio import run as run_async
    from clamp.cli.common import client_options, matrix_registries
    from clamp.oci.store import Stores
    from clamp.verify.entry import check_tags

    entries = [e for e in loaded.model.images if e.digest is not None]

    async def run() -> list[TagCheck]:
        async with Stores(client_options(insecure,
                                         registries=matrix_registries(loaded))) as stores:
            return await check_tags(stores, loaded, entries)

    from clamp.cli.output import busy

    with busy(f"checking {len(entries)} tags…"):
        results = run_async(run())
    code = _check_exit_code(results)
    stale = [r.entry_id for r in results if r.stale]
    status = "warnings" if code == ExitCode.OK and stale else code.name.lower()
    if as_json:
        print_json({"matrix": str(loaded.path), "status": status, "exitCode": int(code),
                    "entries": [_check_json(r) for r in results]})
    else:
        _check_table(results)
    if stale:
        from clamp.cli.output import warn

        warn(f"stale pins (past their TTL; exit {int(code)}): {', '.join(stale)}")
    _annotate(loaded, results)
    return code


def _check_exit_code(results: list[TagCheck]) -> ExitCode:
    """Drift or a missing tag fails; a stale pin is a warning (reported, exit 0)."""
    if any(r.state in ("drift", "missing") for r in results):
        return ExitCode.FAILED
    if any(r.state == "error" for r in results):
        return ExitCode.REGISTRY_ERROR
    return ExitCode.OK


def _check_json(result: TagCheck) -> dict[str, Any]:
    return {"entry": result.entry_id, "tag": result.tag_reference, "pinned": str(result.pinned),
            "current": str(result.current) if result.current else None, "state": result.state,
            "stale": result.stale, "ageDays": result.age_days, "ttlDays": result.ttl_days,
            "error": result.error}


def _check_table(results: list[TagCheck]) -> None:
    from rich.table import Table

    from clamp.cli.output import cell, out_console

    table = Table(title="Tag check", show_lines=False)
    for column in ("entry", "tag", "state", "detail"):
        table.add_column(column)
    styles = {"current": "green", "drift": "red", "missing": "red", "error": "yellow"}
    for r in results:
        state = r.state + (" (stale)" if r.stale else "")
        table.add_row(cell(r.entry_id), cell(r.tag_reference), f"[{styles[r.state]}]{state}[/]",
                      cell(r.summary))
    out_console().print(table)


def _annotate(loaded: LoadedMatrix, results: list[TagCheck]) -> None:
    from clamp.cli.output import gha_annotation, in_github_actions

    if not in_github_actions():
        return
    for r in results:
        if r.state == "current" and not r.stale:
            continue
        level = "error" if r.state in ("drift", "missing") else "warning"
        gha_annotation(level, f"{r.entry_id}: {r.summary}", file=str(loaded.path),
                       line=loaded.entry_line(r.entry_id), title="clamp resolve --check")


def register(app: typer.Typer) -> None:
    from clamp.cli.registry_flags import with_registry_flags

    app.command("resolve")(with_registry_flags(resolve))
