"""Digest classification: pins, placeholders and malformed strings never get confused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.matrix.digest import DigestKind, check_pinned, classify, is_digest

HEX = "0123456789abcdef"
sha256 = st.text(HEX, min_size=64, max_size=64).map(lambda h: "sha256:" + h)
sha512 = st.text(HEX, min_size=128, max_size=128).map(lambda h: "sha512:" + h)


@given(st.one_of(sha256, sha512))
def test_canonical_digests_are_pinned(value: str) -> None:
    assert classify(value).kind is DigestKind.PINNED
    assert is_digest(value)
    assert check_pinned(value) == value


@given(sha256, st.integers(min_value=0, max_value=63))
def test_truncated_or_extended_is_malformed(value: str, cut: int) -> None:
    for bad in (value[: 7 + cut], value + "0"):
        result = classify(bad)
        assert result.kind is DigestKind.MALFORMED
        assert result.reason


@given(sha256.filter(lambda v: any(c in "abcdef" for c in v[7:])))
def test_uppercase_hex_is_malformed_not_placeholder(value: str) -> None:
    upper = "sha256:" + value[7:].upper()
    result = classify(upper)
    assert result.kind is DigestKind.MALFORMED
    assert "lowercase" in result.reason


placeholder = st.from_regex(r"\A[A-Z][A-Z0-9]{0,8}(_[A-Z0-9]{1,8}){0,3}\Z").filter(
    lambda s: any(c in "GHIJKLMNOPQRSTUVWXYZ_" for c in s))


@given(placeholder)
def test_uppercase_words_are_placeholders(word: str) -> None:
    assert classify("sha256:" + word).kind is DigestKind.PLACEHOLDER
    with pytest.raises(ValueError, match="placeholder"):
        check_pinned("sha256:" + word)


@given(st.text(max_size=200))
def test_any_text_is_classified_without_crashing(value: str) -> None:
    result = classify(value)
    assert (result.kind is DigestKind.PINNED) == is_digest(value)
    if result.kind is not DigestKind.PINNED:
        assert result.reason


@pytest.mark.parametrize("value", ["sha256:zz", "sha256:12", "sha256:", "md5:" + "0" * 32,
                                   "sha256" + "0" * 64, "SHA256:" + "0" * 64,
                                   "sha256:" + "g" * 64, " sha256:" + "0" * 64])
def test_examples_malformed(value: str) -> None:
    assert classify(value).kind is DigestKind.MALFORMED


@pytest.mark.parametrize("value", ["sha256:TODO_NEXT_RELEASE", "sha256:TODO", "sha256:TBD",
                                   "sha512:PENDING-RELEASE"])
def test_examples_placeholder(value: str) -> None:
    assert classify(value).kind is DigestKind.PLACEHOLDER
