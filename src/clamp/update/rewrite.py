"""Rewrite the matrix for verified pins only, in its own layout, and write it guarded.

Existing entries are edited and new releases appended in one pass of
`clamp.matrix.edit.edit_text` (digest, `added`, `platform_digest`, `provenance`: only those lines
move; a newly discovered release is a new list item indented like the last one), planned against
one parse of the text read. The final text is reloaded once and must mean exactly the old matrix
plus these pins, or nothing is written.

YAML anchors, aliases and merge keys (`<<: *base`) in an entry to be rewritten are refused
(`shared_nodes`): an edit to an anchored value would change every entry that aliases it, and a
merged key has no line of its own to edit. Nothing outside the pinned entries may change, so
what cannot be edited in place is not edited at all (exit 64, the entry's line named).

The write is guarded twice: `write_atomic(expect_sha256=...)` refuses to replace a matrix that
changed since it was read, and (original layout) the policy file the candidates were verified
against must be unchanged too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from clamp.atomic import sha256_file, write_atomic
from clamp.errors import BadInputError, ConflictError
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
    shared_nodes(loaded, (pin.entry_id for pin in existing))
    wanted = wanted_changes(loaded, {pin.entry_id: EntryChange(
        digest=pin.entry.digest, added=_own(pin.entry.added), provenance=pin.entry.provenance,
        platform_digest=pin.entry.platform_digest
        if pin.entry.platform_digest != loaded.entry(pin.entry_id).platform_digest else UNSET)
        for pin in existing})
    text = edit_text(loaded, wanted, [new_entry_data(loaded, pin) for pin in pins if pin.new])
    if text == loaded.text:
        return text
    if _anchors(text) != _anchors(loaded.text):
        raise AssertionError("matrix rewrite added or removed a YAML anchor or alias; "
                             "refusing to write it")
    outside_pins(loaded, text, [pin.entry_id for pin in existing],
                 appended=any(pin.new for pin in pins))
    return _checked(loaded, text, pins)


def outside_pins(loaded: LoadedMatrix, text: str, entry_ids: Sequence[str], *,
                 appended: bool) -> None:
    """Refuse a rewrite that moved a line outside the pinned entries (bad input, exit 64).

    The in-place edit moves only the pinned entries' lines; its fallback for a flow-style
    entry dumps the whole document, which re-indents lists and respaces comments elsewhere
    (`- path:` under `keys:`, `"6.4.4"   # note`). The matrix's other lines must stay byte for
    byte, so such a rewrite is not written: the flow-style entry is to be written in block
    style (or the file in clamp's indentation, `clamp fmt`) first."""
    import difflib

    old, new = loaded.text.splitlines(keepends=True), text.splitlines(keepends=True)
    bare = loaded.text.splitlines()
    spans = [(start - 1, _item_end(bare, start - 1))
             for entry_id in entry_ids if (start := loaded.entry_line(entry_id)) is not None]
    spans = _merged(spans)
    # New releases are appended after the last entry: lines inserted from its first line on
    # (before or after trailing comments) move no line that was there.
    last = loaded.entry_line(loaded.model.images[-1].id) if appended and loaded.model.images \
        else None
    for tag, i1, i2, _j1, _j2 in difflib.SequenceMatcher(None, old, new, autojunk=False
                                                           ).get_opcodes():
        if tag == "equal":
            continue
        inside = any(start <= i1 and i2 <= end for start, end in spans) or (
            tag == "insert" and (any(start < i1 <= end for start, end in spans)
                                 or (last is not None and i1 >= last)))
        if not inside:
            raise BadInputError(
                "clamp update cannot pin this matrix in place: the rewrite would change line "
                f"{i1 + 1}, outside the entries it pins (a flow-style entry makes it re-dump "
                "the file); write that entry in block style first",
                where=f"{loaded.path}:{i1 + 1}")


def _own(day: date | None) -> date | None:
    """A date object of the pin's own. Every pin of a run shares one `today`, and ruamel.yaml
    writes one object met twice as an anchor and an alias (`added: &id001 …`, `added: *id001`)
    when a flow-style entry makes it dump the document: values must not be shared."""
    return None if day is None else date.fromordinal(day.toordinal())


def _anchors(text: str) -> list[str]:
    """The anchor and alias names in `text`, in order (a rewrite must keep them exactly)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.tokens import AliasToken, AnchorToken

    if "&" not in text and "*" not in text:
        return []
    return [f"{type(token).__name__}:{token.value}" for token in YAML(typ="rt").scan(text)
            if isinstance(token, AnchorToken | AliasToken)]


def shared_nodes(loaded: LoadedMatrix, entry_ids: Iterable[str]) -> None:
    """Refuse to edit an entry holding a YAML anchor, alias or merge key (bad input, exit 64).

    An anchored value edited in place would change every entry aliasing it (what the pins are
    checked to be would be right, the neighbour silently re-pinned); a merged key (`<<: *base`)
    has no line of its own. Those entries must be written out in full before they are updated.
    """
    wanted = list(entry_ids)
    if not wanted or ("&" not in loaded.text and "*" not in loaded.text):
        return
    from ruamel.yaml import YAML
    from ruamel.yaml.tokens import AliasToken, AnchorToken

    lines = sorted(token.start_mark.line for token in YAML(typ="rt").scan(loaded.text)
                   if isinstance(token, AnchorToken | AliasToken))
    text_lines = loaded.text.splitlines()
    for entry_id in wanted:
        start = loaded.entry_line(entry_id)
        if start is None:
            continue
        end = _item_end(text_lines, start - 1)
        if any(start - 1 <= line < end for line in lines):
            raise BadInputError(
                f"entry {entry_id} uses a YAML anchor, alias or merge key (<<); clamp update "
                "edits entries in place and will not change what another entry shares: write "
                "the entry out in full", where=f"{loaded.path}:{start}")


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Line spans with touching or overlapping ones joined (neighbouring pinned entries)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _item_end(lines: Sequence[str], first: int) -> int:
    """The 0-based line after the block list item starting at `first` (a flow item: its line)."""
    head = lines[first]
    column = len(head) - len(head.lstrip(" "))
    if not head.lstrip(" ").startswith("-"):
        return first + 1
    for number in range(first + 1, len(lines)):
        line = lines[number]
        body = line.lstrip(" ")
        if not body or body.startswith("#"):
            continue
        depth = len(line) - len(body)
        if depth < column or (depth == column and body.startswith("-")):
            return number
    return len(lines)


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
