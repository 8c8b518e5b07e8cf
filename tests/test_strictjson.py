"""The kernel's strict JSON reader: the depth pre-check's fast paths give the byte-by-byte
answer on every input (brackets, quotes, backslashes, unterminated strings)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.strictjson import StrictJSONError, _depth_exceeds, loads_lenient, loads_strict


def _depth_exceeds_slow(raw: bytes, limit: int) -> bool:
    """The byte-by-byte definition `_depth_exceeds` is tested against (the reader's first
    version: brackets outside strings, escapes inside them)."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


TOKENS = st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b"a", b",", b":", b"\n", b"\\\""])


@given(st.lists(TOKENS, max_size=300), st.integers(min_value=0, max_value=8))
def test_depth_fast_paths_agree_with_the_definition(tokens: list[bytes], limit: int) -> None:
    raw = b"".join(tokens)
    assert _depth_exceeds(raw, limit) == _depth_exceeds_slow(raw, limit)


def test_depth_examples() -> None:
    deep = b"[" * 65 + b"]" * 65
    assert _depth_exceeds(deep, 64) and _depth_exceeds_slow(deep, 64)
    quoted = b'["' + b"[" * 100 + b'"]'
    assert not _depth_exceeds(quoted, 64)
    unterminated = b'["\\' + b"[" * 100
    assert _depth_exceeds(unterminated, 64) == _depth_exceeds_slow(unterminated, 64)


# Lone surrogates (red team, session 10): Go's encoding/json decodes an unpaired `\ud800` as
# U+FFFD; Python kept it, a str no UTF-8 writer can write (the provenance writer crashed on one).
@pytest.mark.parametrize(("raw", "value"), [
    (b'{"a":"x\\ud800y"}', {"a": "x\ufffdy"}),
    (b'{"a\\udfff":["\\ud800",{"b":"\\udc00"}]}', {"a\ufffd": ["\ufffd", {"b": "\ufffd"}]}),
    (b'{"a":"\\ud83d\\ude00"}', {"a": "\U0001f600"}),  # a pair is one character
    (b'{"a":"\\\\ud800"}', {"a": "\\ud800"}),  # an escaped backslash: no escape
    ('{"a":"\ud800"}', {"a": "\ufffd"}),  # a str holding one, raw
])
def test_lone_surrogates_are_read_as_go_reads_them(raw: bytes | str, value: object) -> None:
    got = loads_strict(raw, limit=1024)
    assert got == value
    json.dumps(got, ensure_ascii=False).encode("utf-8")  # writable


def test_a_key_with_a_lone_surrogate_beside_its_go_reading_is_refused() -> None:
    with pytest.raises(StrictJSONError, match="differing only in spelling"):
        loads_strict(b'{"a\\ud800":1,"a\xef\xbf\xbd":2}', limit=1024)


def test_the_lenient_reader_keeps_pythons_reading_with_gos_strings() -> None:
    assert loads_lenient(b'{"a":1,"a":"x\\ud800"}') == {"a": "x\ufffd"}  # duplicates: last
    assert loads_lenient('["\\udc00", "\ud800"]') == ["\ufffd", "\ufffd"]
    assert loads_lenient(b'{"a":"\\u00e9"}') == {"a": "\u00e9"}
