"""Reading files the user names, bounded by what is read rather than by what `stat` says.

Why: `stat` reports 0 bytes for a character device or a FIFO, so a size check before
`read_bytes()` lets `--key /dev/zero` or `-m /dev/stdin` read until memory runs out. Reading at
most one byte past the bound and looking at what arrived holds for every kind of file.
"""

from __future__ import annotations

import os


def read_at_most(path: str | os.PathLike[str], limit: int) -> bytes:
    """Up to `limit + 1` bytes of `path`: more than `limit` means the file is too large.
    OSError propagates for the caller to word."""
    with open(path, "rb") as handle:
        return handle.read(limit + 1)
