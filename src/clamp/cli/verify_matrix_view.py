"""`clamp verify --matrix` (placeholder until the verify pipeline lands)."""

from __future__ import annotations

from pathlib import Path


def run_verify_matrix(matrix: Path, *, version: str | None, os_name: str | None, output: Path,
                      dispatch: bool, concurrency: int, as_json: bool,
                      insecure: list[str]) -> int:
    from clamp.errors import BadInputError

    raise BadInputError("clamp verify --matrix is not available yet", where=str(matrix))
