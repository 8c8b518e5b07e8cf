"""The kernel's strict JSON reader: the depth pre-check's fast paths give the byte-by-byte
answer on every input (brackets, quotes, backslashes, unterminated strings)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clamp.strictjson import _depth_exceeds


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
