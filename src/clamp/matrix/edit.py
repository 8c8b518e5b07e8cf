"""Rewrite image entries in place: only the lines that change move.

`clamp update` must produce a reviewable one-line diff per pin, so re-dumping the whole YAML tree
(which re-indents, realigns comments and drops `null`) is not good enough. Instead ruamel.yaml's
round-trip tree says *where* each entry's keys are, and the edit replaces exactly those spans of
text: a scalar in place (keeping its quoting and the comment after it), a provenance key's lines,
or a new line at the end of the entry. Every position comes from one parse of the text as read
(`clamp.matrix.lines`), so a rewrite costs one parse however many entries it touches. The result
is reloaded and compared with what was asked for, so a bug here can never write a matrix that
means something else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

from clamp.digest import DigestKind, check_pinned, classify
from clamp.errors import BadInputError
from clamp.matrix.house_style import normal, render, render_scalar, same
from clamp.matrix.lines import (
    LineEdits,
    Unsupported,
    flow,
    indent,
    key_pos,
    key_span,
    mapping_col,
    mapping_end,
    scalar_span,
)
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


def apply_changes(loaded: LoadedMatrix,
                  changes: Mapping[str, EntryChange | Mapping[str, Any]]) -> str:
    """Return the matrix file's new text with `changes` (entry id -> new values) applied.

    For the original layout the result is `ci/rocm_matrix.yml` in its own layout (the policy file
    never changes). No change, or only no-op changes, returns the text read, byte for byte.
    """
    wanted = wanted_changes(loaded, changes)
    return checked(loaded, wanted, edit_text(loaded, wanted))


def wanted_changes(loaded: LoadedMatrix, changes: Mapping[str, EntryChange | Mapping[str, Any]]
                   ) -> dict[str, EntryChange]:
    """`changes` as EntryChange values, each naming a known entry and a well-formed digest."""
    wanted = {key: value if isinstance(value, EntryChange) else EntryChange(**value)
              for key, value in changes.items()}
    for key, change in wanted.items():
        loaded.entry(key)  # unknown id -> BadInputError naming the known ones
        if isinstance(change.digest, str):
            try:
                check_pinned(change.digest)
            except ValueError as exc:
                raise BadInputError(f"entry {key}: {exc}") from None
    return wanted


def edit_text(loaded: LoadedMatrix, wanted: Mapping[str, EntryChange],
              new_entries: Sequence[Mapping[str, Any]] = ()) -> str:
    """The text with `wanted` applied and `new_entries` appended, unchecked (see `checked`)."""
    if not wanted and not new_entries:
        return loaded.text
    # Every position comes from one parse of the text read: the loader's own, when it kept it
    # (its value fixes, e.g. a numeric version read as text, move no key and touch no field
    # edited here).
    doc = loaded.doc if loaded.doc is not None and loaded.doc.text == loaded.text \
        else parse_yaml(loaded.path, loaded.text)
    edits = LineEdits(doc.text.splitlines(keepends=True))
    try:
        for key, change in wanted.items():
            _plan_entry(loaded, edits, _at(doc.data, loaded.entry_yaml_loc(key)), change)
        for data in new_entries:
            _plan_append(loaded, edits, doc.data, data)
        return edits.apply() if edits else loaded.text
    except Unsupported:
        text = _redump(loaded, wanted)  # rare (flow-style entries): parses again, once
    if not new_entries:
        return text
    doc = parse_yaml(loaded.path, text)
    edits = LineEdits(doc.text.splitlines(keepends=True))
    for data in new_entries:
        _plan_append(loaded, edits, doc.data, data)
    return edits.apply()


def _at(data: Any, loc: Loc) -> Any:
    node = data
    for part in loc:
        node = node[part]
    return node


def _plan_entry(loaded: LoadedMatrix, edits: LineEdits, entry: Any, change: EntryChange) -> None:
    original = loaded.layout == "original"
    if change.platform_digest is not UNSET and original:
        raise BadInputError("the original layout has no platform_digest field",
                            where=str(loaded.path))
    inserts: dict[str, Any] = {}
    dropped: set[str] = set()
    for key in ("digest", "added", "platform_digest"):
        value = getattr(change, key)
        if value is not UNSET:
            _plan_scalar(loaded, edits, entry, key, value, inserts)
    if change.provenance is not UNSET:
        _plan_provenance(loaded, edits, entry, change.provenance, original, inserts, dropped)
    if inserts:
        at = mapping_end(entry, edits.lines, frozenset(dropped))
        edits.insert(at, indent(render(inserts, loaded.layout), mapping_col(entry)))


def _plan_scalar(loaded: LoadedMatrix, edits: LineEdits, entry: Any, key: str, value: Any,
                 inserts: dict[str, Any]) -> None:
    if (key in entry and same(entry[key], value)) or (key not in entry and value is None):
        return  # an absent key already reads as null
    if key == "digest" and value is None and isinstance(entry.get(key), str) and \
            classify(entry[key]).kind is DigestKind.PLACEHOLDER:
        return  # a placeholder already means "unpinned"
    if flow(entry):
        raise Unsupported
    if key not in entry:
        inserts[key] = value
        return
    key_line, key_col = key_pos(entry, key)
    old = entry[key]
    if isinstance(old, dict | list):
        raise Unsupported
    line = edits.lines[key_line]
    colon, start, end = scalar_span(line, key_col, key)
    if old is not None and end == start:
        raise Unsupported  # value on a later line (block scalar / continuation)
    rendered = render_scalar(value, line[start:end], loaded.layout)
    rest = line[end:]
    if rest.lstrip(" ").startswith("#"):  # keep the comment, with its original spacing
        rest = " " * max(1, len(rest) - len(rest.lstrip(" "))) + rest.lstrip(" ")
    edits.replace(key_line, key_line + 1, [line[:colon + 1] + " " + rendered + rest])


def _plan_provenance(loaded: LoadedMatrix, edits: LineEdits, entry: Any,
                     value: Mapping[str, Any] | None, original: bool,
                     inserts: dict[str, Any], dropped: set[str]) -> None:
    lines = edits.lines
    old: Any = entry.get("provenance")
    keep = {k: v for k, v in (old or {}).items() if original and k in ORIGINAL_TRUST_KEYS}
    new = None if value is None else {k: v for k, v in value.items()
                                      if not (original and k in ORIGINAL_TRUST_KEYS)}
    target = ({**keep, **new} if new is not None else keep) or None
    if same(old, target):
        return
    if flow(entry):
        raise Unsupported
    if "provenance" not in entry or old is None:
        if target is None:
            return
        if "provenance" in entry:  # `provenance: null`: the block goes where new keys go
            start, end = key_span(entry, "provenance", lines)
            edits.replace(start, end, [])
            dropped.add("provenance")
        inserts["provenance"] = dict(target)
        return
    if not isinstance(old, dict) or flow(old) or target is None or \
            not any(key in target for key in old):
        start, end = key_span(entry, "provenance", lines)
        col = key_pos(entry, "provenance")[1]
        block = "" if target is None else indent(render({"provenance": dict(target)},
                                                        loaded.layout), col)
        edits.replace(start, end, block.splitlines(keepends=True))
        return
    # Block mapping: edit key by key so unchanged keys (and their comments) stay put.
    for key in old:
        if key in target and same(old[key], target[key]):
            continue
        start, end = key_span(old, key, lines)
        col = key_pos(old, key)[1]
        block = indent(render({key: target[key]}, loaded.layout), col) if key in target else ""
        edits.replace(start, end, block.splitlines(keepends=True))
    added = {k: v for k, v in target.items() if k not in old}
    if added:
        at = mapping_end(old, lines, frozenset(k for k in old if k not in target))
        edits.insert(at, indent(render(added, loaded.layout), mapping_col(old)))


def _plan_append(loaded: LoadedMatrix, edits: LineEdits, data: Any,
                 entry: Mapping[str, Any]) -> None:
    """Append a new list item after the last entry, with its indentation."""
    images = _at(data, ("rocm", "images") if loaded.layout == "original" else ("images",))
    last: Any = images[-1] if images else None
    if not isinstance(last, dict) or not last or flow(images) or flow(last):
        raise BadInputError("cannot add an entry in place: write images as a block list of "
                            "block mappings", where=str(loaded.path))
    lines = edits.lines
    first_line, col = key_pos(last, next(iter(last)))
    dash_prefix = lines[first_line][:col]
    end = first_line + 1
    for index in range(first_line + 1, len(lines)):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(lines[index]) - len(lines[index].lstrip(" ")) < col:
            break
        end = index + 1
    block = render(entry, loaded.layout)
    edits.insert(end, "".join(
        (dash_prefix if number == 0 else " " * col) + line if line.strip() else line
        for number, line in enumerate(block.splitlines(keepends=True))))


def append_entry(loaded: LoadedMatrix, text: str, data: Mapping[str, Any]) -> str:
    """`text` (the text read) with one new entry appended; see `edit_text` for several."""
    if text != loaded.text:
        raise ValueError("append_entry edits the text read; use edit_text(new_entries=...)")
    return edit_text(loaded, {}, [data])


def _redump(loaded: LoadedMatrix, wanted: Mapping[str, EntryChange]) -> str:
    """Fallback for layouts the in-place edit cannot handle: a full round-trip dump."""
    import io

    from ruamel.yaml import YAML

    from clamp.matrix.house_style import dumper

    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    dumper()  # registers the explicit-null representer
    data = yaml.load(loaded.text)
    for key, change in wanted.items():
        node = _at(data, loaded.entry_yaml_loc(key))
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


def checked(loaded: LoadedMatrix, wanted: Mapping[str, EntryChange], text: str) -> str:
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
            if loaded.layout == "original" and entry.provenance:  # beside a key_path: info
                for kept in ("identity", "issuer"):
                    if kept in entry.provenance:
                        prov.setdefault(kept, entry.provenance[kept])
            updates["provenance"] = normal(prov) or None
        expected.images[index] = replace_entry(entry, updates)
    if after.model.model_dump() != expected.model_dump():
        raise AssertionError("matrix edit changed more than was asked; refusing to write it")
    return text


def replace_entry(entry: Any, updates: dict[str, Any]) -> Any:
    """A copy of a model with fields replaced (small helper kept public for tests)."""
    data = entry.model_dump()
    data.update(updates)
    return type(entry).model_validate(data)


__all__ = ["UNSET", "EntryChange", "append_entry", "apply_changes", "edit_text", "render"]
