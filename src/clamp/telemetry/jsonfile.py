"""Reading JSON documents: ones the user named (one-line errors that say which file and why) and
GPU snapshots captured from a tool's stdout (a reason string, for the corrupt-input report)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from clamp.errors import BadInputError


def read_json(path: Path, what: str) -> Any:
    """Parse `path` as JSON; an unreadable or malformed file is a BadInputError naming it."""
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        raise BadInputError(f"cannot read {what}: {exc.strerror}", where=str(path)) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{what} is not valid JSON ({exc})", where=str(path)) from exc


_JSON_START = re.compile(rb"^[ \t]*[\[{]", re.MULTILINE)


def load_captured_json(path: Path) -> Any:
    """A JSON document captured from a tool's stdout; raises ValueError with a short reason.

    Text lines printed before the JSON are skipped: both GPU tools write notices to stdout ahead
    of it (amd-smi's watch mode "'CTRL' + 'C' to stop watching output:", rocm-smi's
    "WARNING: ..." lines), so a `> file` capture often starts with one.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"unreadable: {exc.strerror}") from exc
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
