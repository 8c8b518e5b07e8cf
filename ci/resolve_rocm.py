#!/usr/bin/env python3
"""The origin's resolver, kept for its users, on clamp's matrix reader.

    ci/resolve_rocm.py [--matrix M]

prints what the origin's printed: one line, `ghcr.io/rocm/dev:VERSION-OS@DIGEST`, the first of
(default version, prefer_os), (default), (fallback) that is pinned; on failure (a stdout that
cannot take the line included) `Error: ...` on stderr and exit 1. Unlike the origin it never asks
a registry for the digest of an unpinned entry: an unpinned image is not resolved.
Any other option makes it `clamp resolve ARGS`.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    from clamp.cli import streams

    streams.guard()  # a stdout that cannot take the output fails, as clamp's own commands
    args = sys.argv[1:] if argv is None else argv
    matrix = HERE / "rocm_matrix.yml"
    rest = list(args)
    if len(rest) >= 2 and rest[0] in ("--matrix", "-m"):
        matrix, rest = Path(rest[1]), rest[2:]
    elif rest and rest[0].startswith("--matrix="):
        matrix, rest = Path(rest[0].split("=", 1)[1]), rest[1:]
    from clamp.cli.main import app, invoke

    if rest:
        return invoke(app, ["resolve", "--matrix", str(matrix), *rest],
                      prog_name="resolve_rocm.py")
    from clamp.errors import ClampError
    from clamp.matrix import load, select_image

    try:
        loaded = load(matrix)
        chosen = select_image(loaded.model)
    except ClampError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    for warning in [*loaded.warnings, *chosen.warnings]:
        print(f"warning: {warning}", file=sys.stderr)
    # A stdout that cannot take the image is the origin's failure: `$(ci/resolve_rocm.py)`
    # must not go on with an empty image name.
    return streams.print_line(chosen.ref.reference, label="Error", failed=1)


if __name__ == "__main__":
    sys.exit(main())
