"""`clamp provenance check`: the workflows' proof that `clamp verify` ran and wrote evidence."""

from __future__ import annotations

from pathlib import Path

import typer

from clamp.cli.common import MATRIX_OPTION

provenance_app = typer.Typer(name="provenance", help="Check rocm_provenance.json files.",
                             no_args_is_help=True, add_completion=False, rich_markup_mode=None)


@provenance_app.command("check")
def check(
    file: Path = typer.Argument(..., help="The rocm_provenance.json to check."),
    matrix: Path = MATRIX_OPTION,
    version: str | None = typer.Option(None, "--version", help="The run selected only this "
                                       "version."),
    os_name: str | None = typer.Option(None, "--os", help="The run selected only this OS."),
) -> int:
    """Check that FILE is a valid provenance document (schemas/provenance.schema.json) written
    from MATRIX's current bytes, with one record per pinned entry selected.

    Exit codes: 0 it is; 64 it is missing, invalid, or not this matrix's.
    """
    from clamp.cli.common import load_matrix
    from clamp.cli.output import info
    from clamp.verify.provenance_check import check_provenance

    document = check_provenance(file, load_matrix(matrix), version=version, os_name=os_name)
    info(f"{file}: valid, {len(document.records)} records (one per pinned entry), "
         f"{len(document.skipped)} unpinned skipped, status {document.status} "
         f"(exit {document.exitCode})")
    return 0


def register(app: typer.Typer) -> None:
    app.add_typer(provenance_app)
