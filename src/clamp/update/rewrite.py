"""Rewrite the matrix for verified pins only, in its own layout, and write it guarded.

Existing entries are edited and new releases appended in one pass of
`clamp.matrix.edit.edit_text` (digest, `added`, `platform_digest`, `provenance`: only those lines
move; a newly discovered release is a new list item indented like the last one), planned against
one parse of the text read. The final text is reloaded once and must mean exactly the old matrix
plus these pins, or nothing is written.

The write is guarded twice: `write_atomic(expect_sha256=...)` refuses to replace a matrix that
changed since it was read, and (original layout) the policy file the candidates were verified
against must be unchanged too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from clamp.atomic import sha256_file, write_atomic
from clamp.errors import ConflictError
from clamp.matrix import LoadedMatrix, load_text
from clamp.matrix.edit import (
    ORIGINAL_TRUST_KEYS,
    UNSET,
    EntryChange,
    edit_text,
    wanted_changes,
)
from clamp.update.decision import Pin

#: Called with the matrix path after the new text is ready and before the guarded write. A
#: public seam for tests (simulate a concurrent edit deterministically) and for callers that
#: want to log or lock; a hook that raises aborts the write.
BEFORE_WRITE: list[Callable[[Path], None]] = []

# Keys a new entry copies from the entry whose release line it extends (native format).
_OVERRIDES = ("registry", "repository", "tag", "policy", "trust")


def render(loaded: LoadedMatrix, pins: Sequence[Pin]) -> str:
    """The matrix text with `pins` applied; the text read, byte for byte, if there are none.

    One parse locates every edit (existing entries and appended ones) and one reload checks
    the result, however many pins there are."""
    existing = [pin for pin in pins if not pin.new]
    wanted = wanted_changes(loaded, {pin.entry_id: EntryChange(
        digest=pin.entry.digest, added=pin.entry.added, provenance=pin.entry.provenance,
        platform_digest=pin.entry.platform_digest
        if pin.entry.platform_digest != loaded.entry(pin.entry_id).platform_digest else UNSET)
        for pin in existing})
    text = edit_text(loaded, wanted, [new_entry_data(loaded, pin) for pin in pins if pin.new])
    if text == loaded.text:
        return text
    return _checked(loaded, text, pins)


def new_entry_data(loaded: LoadedMatrix, pin: Pin) -> dict[str, Any]:
    """The mapping written for a new entry, keys in the matrix's usual order."""
    from ruamel.yaml.comments import CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    entry = pin.entry
    data: dict[str, Any] = {"version": DoubleQuotedScalarString(entry.version), "os": entry.os,
                            "digest": entry.digest, "added": entry.added}
    if loaded.layout == "original":
        trust_keys = _original_trust_keys(loaded, pin)
        data["provenance"] = {**trust_keys, **(entry.provenance or {})}
        return data
    if entry.platform:
        data["platform"] = entry.platform
        data["platform_digest"] = entry.platform_digest
    for key in _OVERRIDES:
        value = getattr(entry, key)
        if value is None:
            continue
        if isinstance(value, list):
            seq = CommentedSeq(value)
            seq.fa.set_flow_style()
            value = seq
        data[key] = value
    data["provenance"] = dict(entry.provenance or {})
    return data


def _original_trust_keys(loaded: LoadedMatrix, pin: Pin) -> dict[str, Any]:
    """The source entry's key_path/identity/issuer: the new entry is trusted the same way."""
    if pin.source is None or loaded.doc is None:
        return {}
    node: Any = loaded.doc.data
    for part in loaded.entry_yaml_loc(pin.source.id):
        node = node[part]
    prov = node.get("provenance") if isinstance(node, dict) else None
    if not isinstance(prov, dict):
        return {}
    return {str(k): str(v) for k, v in prov.items() if k in ORIGINAL_TRUST_KEYS}


def _checked(loaded: LoadedMatrix, text: str, pins: Sequence[Pin]) -> str:
    """Reload the new text: it must be the old matrix plus exactly these pins, or nothing."""
    after = load_text(text, loaded.path, policy_text=loaded.policy_text,
                      policy_path=loaded.policy_path)
    expected = loaded.model.model_copy(deep=True)
    by_id = {pin.entry_id: pin for pin in pins if not pin.new}
    for index, entry in enumerate(expected.images):
        if entry.id in by_id:
            expected.images[index] = _as_read(loaded, by_id[entry.id])
    expected.images += [_as_read(loaded, pin) for pin in pins if pin.new]
    if after.model.model_dump() != expected.model_dump():
        raise AssertionError("matrix rewrite changed more than the verified pins; "
                             "refusing to write it")
    return text


def _as_read(loaded: LoadedMatrix, pin: Pin) -> Any:
    """The pinned entry as the loader will read it back (original layout: trust keys aside)."""
    entry = pin.entry
    if loaded.layout != "original":
        return entry
    old = pin.source if pin.new else loaded.entry(pin.entry_id)
    prov = dict(entry.provenance or {})
    if old is not None and old.provenance and "issuer" in old.provenance:
        prov.setdefault("issuer", old.provenance["issuer"])
    return entry.model_copy(update={"provenance": prov or None})


def write_matrix(loaded: LoadedMatrix, text: str, *,
                 before_write: Callable[[Path], None] | None = None) -> None:
    """Replace the matrix with `text` unless it (or its policy file) changed since it was read."""
    for hook in (*BEFORE_WRITE, *([before_write] if before_write else [])):
        hook(loaded.path)
    changed = "matrix"
    try:
        if loaded.policy_path is not None and loaded.policy_sha256 is not None:
            changed = f"policy file {loaded.policy_path}"
            if not loaded.policy_path.is_file() or \
                    sha256_file(loaded.policy_path) != loaded.policy_sha256:
                raise ConflictError("changed")
            changed = "matrix"
        write_atomic(loaded.path, text, expect_sha256=loaded.sha256)
    except ConflictError:
        raise ConflictError(f"the {changed} changed while clamp update was running; not "
                            "overwritten (nothing was written: run clamp update again)",
                            where=str(loaded.path)) from None
