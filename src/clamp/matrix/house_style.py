"""YAML text in the matrix's house style: what in-place edits insert, and value comparison.

One ruamel.yaml dumper is built per process and reused: building one costs more than dumping a
key, and an update renders a few keys per entry.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

_DIGEST = re.compile(r"sha(?:256|384|512):[0-9a-f]{64,128}\Z")


@lru_cache(maxsize=1)
def dumper() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    # "Unpinned" is spelt as an explicit null, never an empty value that reads as a typo.
    yaml.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"))
    return yaml


def render(data: Mapping[str, Any], layout: str) -> str:
    """YAML for `data` at column 0 (the same rendering for both layouts)."""
    del layout  # kept for call-site clarity
    stream = io.StringIO()
    dumper().dump(plain(dict(data)), stream)
    return stream.getvalue()


def render_scalar(value: Any, old_text: str, layout: str) -> str:
    """`value` as the text after `key: `, quoted the way `old_text` was when it was a string."""
    rendered = _simple(value)
    if rendered is None:
        rendered = render({"k": value}, layout).strip()[len("k:"):].strip()
    if isinstance(value, str) and old_text[:1] in ("'", '"') and rendered[:1] not in ("'", '"'):
        if old_text[:1] == '"':
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return "'" + value.replace("'", "''") + "'"
    return rendered


def _simple(value: Any) -> str | None:
    """What the dumper writes for the scalars an update sets most (a digest, a day, null),
    without running it; None for anything else."""
    if value is None:
        return "null"
    if type(value) is date:
        return value.isoformat()
    if type(value) is str and _DIGEST.match(value):
        return value
    return None


def plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def same(old: Any, new: Any) -> bool:
    return bool(normal(old) == normal(new))


def normal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normal(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value
