"""YAML text in the matrix's house style: what in-place edits insert, and value comparison.

One ruamel.yaml dumper is built per process and reused: building one costs more than dumping a
key, and an update renders a few keys per entry.

Most of what an update inserts is one small shape: a provenance mapping of plain strings,
digests, dates, integers and nulls (`clamp.update.decision.provenance_block`). Running ruamel's
representer, serializer and emitter for each of those was most of a rewrite's time (~1 ms an
entry), so `_direct` writes that shape itself, and gives up (returns None: ruamel writes it) on
anything it is not sure it writes exactly as the dumper would: it accepts only block mappings
and lists of scalars, ASCII strings that the dumper writes plain or single-quoted (decided by
the dumper's own resolver, so a string that reads as a number, a bool, null or a date is
quoted the way ruamel quotes it), and keys and values far shorter than the line width.
`tests/matrix/test_matrix_house_style.py` checks, property by property and on the quoting edge
cases, that whatever `_direct` accepts is byte for byte the dumper's text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

_DIGEST = re.compile(r"sha(?:256|384|512):[0-9a-f]{64,128}\Z")

# A string `_direct` may write without the dumper: printable ASCII, starting with a letter, a
# digit, `_` or `/` (no YAML indicator), ending in neither a space nor `:`, with no `: `, ` #`
# or `'` inside (the dumper would quote those, or quote them differently), short enough that
# the dumper's width (4096) never folds it.
_SAFE = re.compile(r"(?!.*: )(?!.* #)[A-Za-z0-9_/](?:[ -&(-~]{0,510}[!-&(-9;-~])?\Z")
_SAFE_KEY_LEN = 100  # the emitter writes keys of 128 characters or more as complex keys
_MAX_DEPTH = 8
_STR_TAG = "tag:yaml.org,2002:str"


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


@lru_cache(maxsize=1)
def _resolve() -> Any:
    """The dumper's own implicit resolver: which tag a plain scalar would read back as."""
    from ruamel.yaml.nodes import ScalarNode

    resolver = dumper().resolver
    return lambda text: resolver.resolve(ScalarNode, text, (True, False))


def render(data: Mapping[str, Any], layout: str) -> str:
    """YAML for `data` at column 0 (the same rendering for both layouts)."""
    del layout  # kept for call-site clarity
    value = plain(dict(data))
    direct = _direct(value)
    return direct if direct is not None else ruamel_render(value)


def ruamel_render(data: Mapping[str, Any]) -> str:
    """What the dumper writes for `data`: the reference `_direct` must equal."""
    stream = io.StringIO()
    dumper().dump(data, stream)
    return stream.getvalue()


def _direct(data: dict[str, Any]) -> str | None:
    """The dumper's text for `data` when it is of the shapes described above, else None."""
    out: list[str] = []
    return "".join(out) if data and _mapping(data, 0, out) else None


def _mapping(data: dict[str, Any], col: int, out: list[str]) -> bool:
    pad = " " * col
    for key, value in data.items():
        if type(key) is not str or len(key) >= _SAFE_KEY_LEN or _string(key) != key:
            return False
        if type(value) is dict:
            if not value or col >= 2 * _MAX_DEPTH:
                return False
            out.append(f"{pad}{key}:\n")
            if not _mapping(value, col + 2, out):
                return False
        elif type(value) is list:
            if not value:
                return False
            out.append(f"{pad}{key}:\n")
            for item in value:
                text = _scalar(item)
                if text is None:
                    return False
                out.append(f"{pad}  - {text}\n")
        else:
            text = _scalar(value)
            if text is None:
                return False
            out.append(f"{pad}{key}: {text}\n")
    return True


def _scalar(value: Any) -> str | None:
    simple = _simple(value)
    if simple is not None:
        return simple
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is str:
        return _string(value)
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if kind is DoubleQuotedScalarString and _SAFE.match(value) and '"' not in value \
            and "\\" not in value:
        return f'"{value}"'
    return None


def _string(value: str) -> str | None:
    """A plain str as the dumper writes it (plain, or single-quoted when it would read back as
    another type), or None when it is outside what `_direct` knows."""
    if not _SAFE.match(value):
        return None
    return value if _resolve()(value) == _STR_TAG else f"'{value}'"


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
