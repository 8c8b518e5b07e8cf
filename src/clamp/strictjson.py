"""The one strict JSON reader: JSON that no Go reader can read differently from Python.

Every JSON document clamp judges was written by someone else and is read, on the other side, by
Go: cosign, sigstore-go and Rekor read signatures; containerd, docker and distribution read
manifests and indexes. Go's encoding/json fills a struct field from the *last* key matching it
case-insensitively (`"Manifests"` after `"manifests"`, `"Digest"` after `"digest"`), and
protojson (bundles, in-toto v1) takes a field under its JSON name or its proto name
(`predicateType`, `predicate_type`), while Python's dict keeps the exact spelling. A document
with two keys that either reader could take for one field therefore means one thing to clamp and
another to the runtime that pulls the image; it is refused outright, at every nesting level, as
are exact duplicates, NaN and Infinity, non-UTF-8 bytes and a byte-order mark. Size and nesting
are capped first. A lone surrogate escape (`"\\ud800"`) is read as Go reads it, U+FFFD.

It is kernel code so that both rooms that read hostile JSON use it: `clamp.trust.encoding` (as
`loads_json`, raising the trust errors) and `clamp.oci.manifest` (manifests and indexes).
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")
#: An escape that may decode to a surrogate (a pair decodes to one character; a lone one stays).
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_ESCAPED_SURROGATE_BYTES = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class StrictJSONError(ValueError):
    """JSON refused by `loads_strict`; the message says why, for the caller's own error."""


def loads_strict(data: bytes | str, *, limit: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse `data` (at most `limit` bytes) or raise `StrictJSONError` saying why not."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > limit:
        raise StrictJSONError(f"JSON too large ({len(raw)} > {limit} bytes)")
    try:
        text = data if isinstance(data, str) else data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictJSONError("malformed JSON (not UTF-8)") from exc
    if text.startswith("\ufeff"):
        raise StrictJSONError("malformed JSON (byte-order mark)")
    if _depth_exceeds(raw, max_depth):
        raise StrictJSONError(f"JSON nested deeper than {max_depth}")

    def no_constants(name: str) -> Any:
        raise ValueError(f"invalid JSON constant {name}")

    try:
        value = json.loads(text, object_pairs_hook=_unambiguous_object,
                           parse_constant=no_constants)
    except (ValueError, RecursionError) as exc:
        raise StrictJSONError(f"malformed JSON ({exc})") from exc
    # Bytes decoded as UTF-8 hold no surrogate (the codec refuses them): only escapes can.
    return _go_view(value, raw if isinstance(data, bytes) else text)


def loads_lenient(data: bytes | str) -> Any:
    """Python's own `json.loads` (duplicates and all), its strings as Go reads them: for
    documents clamp wrote itself or only shows (a provenance file, a registry's error page),
    where nothing is judged from the keys but every string may reach an output file. Raises
    what `json.loads` raises."""
    value = json.loads(data)
    return _go_view(value, data)


def _go_view(value: Any, text: bytes | str) -> Any:
    """`go_strings(value)` when `text` may hold a lone surrogate (fast: one scan, no walk)."""
    if isinstance(text, bytes):
        found = _ESCAPED_SURROGATE_BYTES.search(text) is not None
    else:
        found = bool(_SURROGATE.search(text) or _ESCAPED_SURROGATE.search(text))
    return go_strings(value) if found else value


def go_text(text: str) -> str:
    """`text` with its lone surrogates as U+FFFD (`go_strings` for one string): for text read
    by other parsers (Python's json on a registry's error page) that reaches clamp's output."""
    return _SURROGATE.sub("\ufffd", text)


def go_strings(value: Any) -> Any:
    """`value` with every lone UTF-16 surrogate (`"\\ud800"` unpaired) in its strings, keys
    and values, as U+FFFD: how Go's encoding/json decodes it ("invalid UTF-16 surrogate pairs
    ... are replaced by the Unicode replacement character"). Python keeps the lone surrogate, a
    string no UTF-8 writer can write: a registry's `"\\ud800"` reached the provenance writer and
    crashed the whole run (exit 70, no file). Keys cannot collide here: `fold_key` already
    compared them as U+FFFD."""
    if isinstance(value, str):
        return go_text(value)
    if isinstance(value, list):
        return [go_strings(item) for item in value]
    if isinstance(value, dict):
        return {go_strings(key): go_strings(item) for key, item in value.items()}
    return value


def fold_key(key: str) -> str:
    """The spelling-insensitive form of an object key: two keys with one fold could be read as the
    same field by Go (Unicode case folding, `K` KELVIN SIGN and `ſ` included; lone surrogates
    are U+FFFD to Go) or by protojson (proto name `a_b` for JSON name `aB`)."""
    return case_fold(key).replace("_", "")


def case_fold(key: str) -> str:
    """`key` as Go's encoding/json compares field names (a superset of its simple folding)."""
    if key.isascii():
        return key.lower()
    return _SURROGATE.sub("\ufffd", key).casefold()


def _unambiguous_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, value in pairs:
        folded = fold_key(key)
        if folded in seen:
            first = seen[folded]
            what = "duplicate key" if first == key else "keys differing only in spelling"
            raise ValueError(f"{what} {_show(first)} and {_show(key)}"
                             if first != key else f"{what} {_show(key)}")
        seen[folded] = key
        out[key] = value
    return out


def _show(key: str) -> str:
    return ascii(key[:64])


#: A JSON string (escapes included), or an unterminated one running to the end of the input.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def _depth_exceeds(raw: bytes, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than `limit` (before parsing, so Python's
    recursion is never the bound). Fast paths, same answer as the byte-by-byte walk that
    tests/test_strictjson.py holds as the definition: a document with no more openers than the
    limit cannot exceed it; otherwise only the brackets left once strings are cut out are
    walked."""
    if raw.count(b"{") + raw.count(b"[") <= limit:
        return False
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b"", raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


__all__ = ["MAX_DEPTH", "StrictJSONError", "case_fold", "fold_key", "go_strings",
           "go_text", "loads_lenient", "loads_strict"]
