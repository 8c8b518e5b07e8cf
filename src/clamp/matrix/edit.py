"""Rewrite image entries in place: only the lines that change move.

`clamp update` must produce a reviewable one-line diff per pin, so re-dumping the whole YAML tree
(which re-indents, realigns comments and drops `null`) is not good enough. Instead ruamel.yaml's
round-trip tree says *where* each entry's keys are, and the edit replaces exactly those spans of
text: a scalar in place (keeping its quoting and the comment after it), a provenance key's lines,
or a new line at the end of the entry. The result is reloaded and compared with what was asked
for, so a bug here can never write a matrix that means something else.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

from clamp.digest import DigestKind, check_pinned, classify
from clamp.errors import BadInputError
from clamp.matrix.loader import LoadedMatrix, load_text
from clamp.matrix.source import Loc, parse_yaml

# In the original layout these provenance keys are trust configuration, not tool output: an
# update records the verified signer under other keys and never rewrites these.
ORIGINAL_TRUST_KEYS = frozenset({"key_path", "identity", "issuer"})


class _Unset(Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET


@dataclass(frozen=True)
class EntryChange:
    """New values for one entry; fields left UNSET are not touched."""

    digest: str | _Unset | None = UNSET
    added: date | _Unset | None = UNSET
    provenance: Mapping[str, Any] | _Unset | None = UNSET
    platform_digest: str | _Unset | None = UNSET


class _Unsupported(Exception):
    """This edit cannot be made in place (e.g. a flow-style entry); fall back to a re-dump."""


def apply_changes(loaded: LoadedMatrix,
                  changes: Mapping[str, EntryChange | Mapping[str, Any]]) -> str:
    """Return the matrix file's new text with `changes` (entry id -> new values) applied.

    For the original layout the result is `ci/rocm_matrix.yml` in its own layout (the policy file
    never changes). No change, or only no-op changes, returns the text read, byte for byte.
    """
    wanted = {key: value if isinstance(value, EntryChange) else EntryChange(**value)
              for key, value in changes.items()}
    for key, change in wanted.items():
        loaded.entry(key)  # unknown id -> BadInputError naming the known ones
        if isinstance(change.digest, str):
            try:
                check_pinned(change.digest)
            except ValueError as exc:
                raise BadInputError(f"entry {key}: {exc}") from None
    text = loaded.text
    try:
        for key, change in wanted.items():
            text = _apply_one(loaded, text, loaded.entry_yaml_loc(key), change)
    except _Unsupported:
        text = _redump(loaded, wanted)
    return _checked(loaded, wanted, text)


def _apply_one(loaded: LoadedMatrix, text: str, loc: Loc, change: EntryChange) -> str:
    original = loaded.layout == "original"
    if change.digest is not UNSET:
        text = _set_scalar(loaded, text, loc, "digest", change.digest)
    if change.added is not UNSET:
        text = _set_scalar(loaded, text, loc, "added", change.added)
    if change.platform_digest is not UNSET:
        if original:
            raise BadInputError("the original layout has no platform_digest field",
                                where=str(loaded.path))
        text = _set_scalar(loaded, text, loc, "platform_digest", change.platform_digest)
    if change.provenance is not UNSET:
        text = _set_provenance(loaded, text, loc, change.provenance, original)
    return text


def _node(loaded: LoadedMatrix, text: str, loc: Loc) -> tuple[Any, list[str]]:
    doc = parse_yaml(loaded.path, text)
    node: Any = doc.data
    for part in loc:
        node = node[part]
    return node, text.splitlines(keepends=True)


def _set_scalar(loaded: LoadedMatrix, text: str, loc: Loc, key: str, value: Any) -> str:
    entry, lines = _node(loaded, text, loc)
    if (key in entry and _same(entry[key], value)) or (key not in entry and value is None):
        return text  # an absent key already reads as null
    if key == "digest" and value is None and isinstance(entry.get(key), str) and \
            classify(entry[key]).kind is DigestKind.PLACEHOLDER:
        return text  # a placeholder already means "unpinned"
    if _flow(entry):
        raise _Unsupported
    if key not in entry:
        return _insert_lines(lines, entry, _render({key: value}, loaded.layout))
    key_line, key_col = _key_pos(entry, key)
    old = entry[key]
    if isinstance(old, dict | list):
        raise _Unsupported
    line = lines[key_line]
    colon = line.find(":", key_col + len(key))
    if colon < 0:
        raise _Unsupported
    start = colon + 1
    while start < len(line) and line[start] == " ":
        start += 1
    end = _scalar_end(line, start)
    if old is not None and end == start:
        raise _Unsupported  # value on a later line (block scalar / continuation)
    rendered = _render_scalar(value, line[start:end], loaded.layout)
    rest = line[end:]
    if rest.lstrip(" ").startswith("#"):  # keep the comment, with its original spacing
        rest = " " * max(1, len(rest) - len(rest.lstrip(" "))) + rest.lstrip(" ")
    lines[key_line] = line[:colon + 1] + " " + rendered + rest
    return "".join(lines)


def _scalar_end(line: str, start: int) -> int:
    """End of the scalar token starting at `start` on a block-context line."""
    body = line.rstrip("\r\n")
    if start >= len(body) or body[start] == "#":
        return start
    quote = body[start]
    if quote == '"':
        index = start + 1
        while index < len(body):
            if body[index] == "\\":
                index += 2
                continue
            if body[index] == '"':
                return index + 1
            index += 1
        raise _Unsupported  # multi-line quoted scalar
    if quote == "'":
        index = start + 1
        while index < len(body):
            if body[index] == "'":
                if body[index + 1:index + 2] == "'":
                    index += 2
                    continue
                return index + 1
            index += 1
        raise _Unsupported
    match = re.search(r"\s+#", body[start:])
    end = start + match.start() if match else len(body)
    return len(body[:end].rstrip())


def _render_scalar(value: Any, old_text: str, layout: str) -> str:
    rendered = _render({"k": value}, layout).strip()[len("k:"):].strip()
    if isinstance(value, str) and old_text[:1] in ("'", '"') and rendered[:1] not in ("'", '"'):
        if old_text[:1] == '"':
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return "'" + value.replace("'", "''") + "'"
    return rendered


def _set_provenance(loaded: LoadedMatrix, text: str, loc: Loc,
                    value: Mapping[str, Any] | None, original: bool) -> str:
    entry, lines = _node(loaded, text, loc)
    old: Any = entry.get("provenance")
    keep = {k: v for k, v in (old or {}).items() if original and k in ORIGINAL_TRUST_KEYS}
    new = None if value is None else {k: v for k, v in value.items()
                                      if not (original and k in ORIGINAL_TRUST_KEYS)}
    target = ({**keep, **new} if new is not None else keep) or None
    if _same(old, target):
        return text
    if _flow(entry):
        raise _Unsupported
    if "provenance" not in entry or old is None:
        if target is None:
            return text
        if "provenance" in entry:
            start, end = _key_span(entry, "provenance", lines)
            lines[start:end] = []
            text = "".join(lines)
            entry, lines = _node(loaded, text, loc)
        return _insert_lines(lines, entry, _render({"provenance": dict(target)}, loaded.layout))
    if not isinstance(old, dict) or _flow(old) or target is None:
        start, end = _key_span(entry, "provenance", lines)
        col = _key_pos(entry, "provenance")[1]
        block = "" if target is None else _indent(_render({"provenance": dict(target)},
                                                          loaded.layout), col)
        lines[start:end] = [block] if block else []
        return "".join(lines)
    # Block mapping: edit key by key so unchanged keys (and their comments) stay put.
    for key in reversed(list(old.keys())):
        if key in target and _same(old[key], target[key]):
            continue
        start, end = _key_span(old, key, lines)
        col = _key_pos(old, key)[1]
        lines[start:end] = ([_indent(_render({key: target[key]}, loaded.layout), col)]
                            if key in target else [])
    added = {k: v for k, v in target.items() if k not in old}
    if added:
        text = "".join(lines)
        entry, lines = _node(loaded, text, loc)
        return _insert_lines(lines, entry["provenance"], _render(added, loaded.layout))
    return "".join(lines)


def _key_span(mapping: Any, key: Any, lines: list[str]) -> tuple[int, int]:
    """Lines [start, end) holding `key` and its value in a block mapping (comments after stay)."""
    start, col = _key_pos(mapping, key)
    end = start + 1
    index = start + 1
    while index < len(lines):
        stripped = lines[index].strip()
        indent = len(lines[index]) - len(lines[index].lstrip(" "))
        if stripped and not stripped.startswith("#"):
            if indent <= col:
                break
            end = index + 1
        index += 1
    return start, end


def _insert_lines(lines: list[str], mapping: Any, block: str) -> str:
    """Append `block` (rendered at column 0) as the last keys of a block mapping."""
    keys = list(mapping.keys())
    if not keys:
        raise _Unsupported
    col = _key_pos(mapping, keys[0])[1]
    _, end = _key_span(mapping, keys[-1], lines)
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    lines[end:end] = [_indent(block, col)]
    return "".join(lines)


def _flow(node: Any) -> bool:
    return bool(node.fa.flow_style())


def _key_pos(mapping: Any, key: Any) -> tuple[int, int]:
    line, col = mapping.lc.key(key)
    return int(line), int(col)


def _indent(block: str, col: int) -> str:
    return "".join(" " * col + line if line.strip() else line
                   for line in block.splitlines(keepends=True))


def _yaml(layout: str) -> Any:
    del layout  # same rendering for both layouts; kept for call-site clarity
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    # "Unpinned" is spelt as an explicit null, never an empty value that reads as a typo.
    yaml.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"))
    return yaml


def append_entry(loaded: LoadedMatrix, text: str, data: Mapping[str, Any]) -> str:
    """Append a new list item after the last entry of `text`, with its indentation.

    Only block-style lists of block mappings can be edited in place; anything else is refused
    with a one-line error rather than re-dumping (and reformatting) the user's file.
    """
    doc = parse_yaml(loaded.path, text)
    images: Any = doc.data
    for part in ("rocm", "images") if loaded.layout == "original" else ("images",):
        images = images[part]
    last: Any = images[-1] if images else None
    if not isinstance(last, dict) or not last or _flow(images) or _flow(last):
        raise BadInputError("cannot add an entry in place: write images as a block list of "
                            "block mappings", where=str(loaded.path))
    first_line, col = _key_pos(last, next(iter(last)))
    lines = text.splitlines(keepends=True)
    dash_prefix = lines[first_line][:col]
    end = first_line + 1
    for index in range(first_line + 1, len(lines)):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(lines[index]) - len(lines[index].lstrip(" ")) < col:
            break
        end = index + 1
    block = render(data, loaded.layout)
    out = [(dash_prefix if number == 0 else " " * col) + line if line.strip() else line
           for number, line in enumerate(block.splitlines(keepends=True))]
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    lines[end:end] = out
    return "".join(lines)


def render(data: Mapping[str, Any], layout: str) -> str:
    """YAML for `data` in the matrix's house style (what in-place edits insert)."""
    return _render(data, layout)


def _render(data: Mapping[str, Any], layout: str) -> str:
    stream = io.StringIO()
    _yaml(layout).dump(_plain(dict(data)), stream)
    return stream.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _same(old: Any, new: Any) -> bool:
    return bool(_normal(old) == _normal(new))


def _normal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _redump(loaded: LoadedMatrix, wanted: Mapping[str, EntryChange]) -> str:
    """Fallback for layouts the in-place edit cannot handle: a full round-trip dump."""
    yaml = _yaml(loaded.layout)
    yaml.preserve_quotes = True
    data = yaml.load(loaded.text)
    for key, change in wanted.items():
        node: Any = data
        for part in loaded.entry_yaml_loc(key):
            node = node[part]
        if change.digest is not UNSET:
            node["digest"] = change.digest
        if change.added is not UNSET:
            node["added"] = change.added
        if change.provenance is not UNSET:
            old = node.get("provenance") or {}
            keep = {k: v for k, v in old.items()
                    if loaded.layout == "original" and k in ORIGINAL_TRUST_KEYS}
            new = dict(change.provenance or {})
            merged = {**keep, **{k: v for k, v in new.items() if k not in keep}}
            if merged:
                node["provenance"] = merged
            elif "provenance" in node:
                del node["provenance"]
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _checked(loaded: LoadedMatrix, wanted: Mapping[str, EntryChange], text: str) -> str:
    """Reload the edited text and insist it says exactly what was asked, nothing else."""
    if text == loaded.text:
        return text
    after = load_text(text, loaded.path, policy_text=loaded.policy_text,
                      policy_path=loaded.policy_path)
    expected = loaded.model.model_copy(deep=True)
    for index, entry in enumerate(expected.images):
        change = wanted.get(entry.id)
        if change is None:
            continue
        updates: dict[str, Any] = {}
        if change.digest is not UNSET:
            updates["digest"] = change.digest
        if change.added is not UNSET:
            updates["added"] = change.added
        if change.platform_digest is not UNSET:
            updates["platform_digest"] = change.platform_digest
        if change.provenance is not UNSET:
            prov = {k: v for k, v in (change.provenance or {}).items()
                    if not (loaded.layout == "original" and k in ORIGINAL_TRUST_KEYS)}
            if loaded.layout == "original" and entry.provenance and "issuer" in entry.provenance:
                prov.setdefault("issuer", entry.provenance["issuer"])
            updates["provenance"] = _normal(prov) or None
        expected.images[index] = replace_entry(entry, updates)
    if after.model.model_dump() != expected.model_dump():
        raise AssertionError("matrix edit changed more than was asked; refusing to write it")
    return text


def replace_entry(entry: Any, updates: dict[str, Any]) -> Any:
    """A copy of a model with fields replaced (small helper kept public for tests)."""
    data = entry.model_dump()
    data.update(updates)
    return type(entry).model_validate(data)


__all__ = ["UNSET", "EntryChange", "append_entry", "apply_changes", "render"]
