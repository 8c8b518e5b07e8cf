"""`clamp matrix validate` and `clamp matrix migrate`: argument handling and output only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from clamp.exitcodes import ExitCode

if TYPE_CHECKING:
    from clamp.matrix import Problem

matrix_app = typer.Typer(name="matrix", help="Check and convert the image matrix file.",
                         no_args_is_help=True, add_completion=False, rich_markup_mode=None)


@matrix_app.command("validate")
def validate(
    file: Path = typer.Argument(..., help="Matrix file (native, or original ci/rocm_matrix.yml)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Check a matrix file; print every problem as FILE:LINE: field: reason.

    Exits 0 when valid (warnings go to stderr), 64 (bad input) when any problem was found.
    """
    from clamp.cli.output import error, gha_annotation, in_github_actions, warn
    from clamp.matrix import MatrixError, load

    try:
        loaded = load(file)
    except MatrixError as exc:
        problems = exc.problems
        if as_json:
            print(json.dumps({"valid": False, "file": str(file),
                              "errors": [_problem_json(p) for p in problems]}, indent=2))
        for problem in problems:
            error(str(problem))
            if in_github_actions():
                gha_annotation("error", f"{problem.field}: {problem.reason}",
                               file=problem.file, line=problem.line, title="clamp matrix")
        raise typer.Exit(int(ExitCode.BAD_INPUT)) from None
    for detail in loaded.warning_details:
        warn(str(detail))
        if in_github_actions():
            gha_annotation("warning", f"{detail.field}: {detail.reason}", file=detail.file,
                           line=detail.line, title="clamp matrix")
    model = loaded.model
    pinned = sum(1 for entry in model.images if entry.digest is not None)
    if as_json:
        print(json.dumps({
            "valid": True, "file": str(loaded.path), "layout": loaded.layout,
            "policy_file": str(loaded.policy_path) if loaded.policy_path else None,
            "sha256": loaded.sha256, "entries": len(model.images), "pinned": pinned,
            "unpinned": len(model.images) - pinned, "policy": model.defaults.policy,
            "warnings": [_problem_json(p) for p in loaded.warning_details],
        }, indent=2))
        return
    source = f" + {loaded.policy_path}" if loaded.policy_path else ""
    print(f"{loaded.path}{source}: valid ({loaded.layout} layout), {len(model.images)} entries "
          f"({pinned} pinned, {len(model.images) - pinned} unpinned), policy "
          f"{model.defaults.policy}, {len(loaded.warnings)} warning(s)")


@matrix_app.command("migrate")
def migrate(
    old: Path = typer.Argument(..., help="Original-layout matrix (ci/rocm_matrix.yml)."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="Write here (atomically) instead of stdout."),
) -> None:
    """Convert an original-layout matrix (+ its rocm_policy.yml) to the native format."""
    from clamp.atomic import write_atomic
    from clamp.cli.output import info, warn
    from clamp.matrix import load
    from clamp.matrix.migrate import migrate_text

    loaded = load(old)
    for message in loaded.warnings:
        warn(message)
    text = migrate_text(loaded, output)
    if output is None:
        print(text, end="")
        return
    write_atomic(output, text)
    info(f"wrote {output} (native format, {len(loaded.model.images)} entries)")


def _problem_json(problem: Problem) -> dict[str, object]:
    return {"file": problem.file, "line": problem.line, "field": problem.field,
            "reason": problem.reason}


def register(app: typer.Typer) -> None:
    app.add_typer(matrix_app)
