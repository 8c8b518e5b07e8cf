"""Reading a JSON document the user named, with one-line errors that say which file and why."""

from __future__ import annotations

import json
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
