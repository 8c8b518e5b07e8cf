"""Reading JSON documents: ones the user named (one-line errors that say which file and why) and
GPU snapshots captured from a tool's stdout (a reason string, for the corrupt-input report)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from clamp.errors import BadInputError
from clamp.files import read_at_most
from clamp.strictjson import loads_lenient

#: The largest provenance file or summary read (a 64-entry matrix's provenance is ~200 KB, a
#: summary of 10,000 sessions ~10 MB): past it, the file is bad input rather than a memory hog.
MAX_DOCUMENT = 256 * 1024 * 1024
#: The largest GPU snapshot read (rocm-smi/amd-smi output is a few KB per card).
MAX_SNAPSHOT = 16 * 1024 * 1024


def read_json(path: Path, what: str) -> Any:
    """Parse `path` as JSON; an unreadable, oversized, malformed or absurdly nested file is a
    BadInputError naming it."""
    try:
        data = read_at_most(path, MAX_DOCUMENT)
        if len(data) > MAX_DOCUMENT:
            raise BadInputError(f"{what} is larger than {MAX_DOCUMENT // 2**20} MiB",
                                where=str(path))
        # Strings as Go reads them: a lone surrogate escape in an edited file would otherwise
        # crash whatever writes the value out (exit 70 instead of a verdict on the file).
        return loads_lenient(data)
    except OSError as exc:
        raise BadInputError(f"cannot read {what}: {exc.strerror}", where=str(path)) from exc
    except (ValueError, UnicodeDecodeError) as exc:  # also a number past 4300 digits
        raise BadInputError(f"{what} is not valid JSON ({first_line(exc, 200)})",
                            where=str(path)) from exc
    except RecursionError:
        raise BadInputError(f"{what} is not valid JSON (nested too deeply)",
                            where=str(path)) from None


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """An exception's first line (cut to `limit` characters), for one-line errors."""
    text = str(exc).strip().splitlines()
    return text[0][:limit] if text else type(exc).__name__


_JSON_START = re.compile(rb"^[ \t]*[\[{]", re.MULTILINE)


def read_snapshot(path: Path) -> bytes:
    """A GPU snapshot's bytes, read up to MAX_SNAPSHOT; raises ValueError with a short reason."""
    try:
        raw = read_at_most(path, MAX_SNAPSHOT)
    except OSError as exc:
        raise ValueError(f"unreadable: {exc.strerror}") from exc
    if len(raw) > MAX_SNAPSHOT:
        raise ValueError(f"larger than {MAX_SNAPSHOT // 2**20} MiB")
    return raw


def load_captured_json(path: Path) -> Any:
    """A JSON document captured from a tool's stdout; raises ValueError with a short reason.

    Text lines printed before the JSON are skipped: both GPU tools write notices to stdout ahead
    of it (amd-smi's watch mode "'CTRL' + 'C' to stop watching output:", rocm-smi's
    "WARNING: ..." lines), so a `> file` capture often starts with one.
    """
    raw = read_snapshot(path)
    try:
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            start = _JSON_START.search(raw)
            if start is None or start.start() == 0:
                raise
            return json.loads(raw[start.start():])
    except RecursionError as exc:
        raise ValueError("not valid JSON: nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise ValueError(f"not valid JSON: {exc}") from exc
