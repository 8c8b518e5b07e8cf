"""The digest grammar (clamp.digest): pins, placeholders and typos never get confused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.digest import Digest, DigestKind, check_pinned, classify, is_digest, parse_digest
from clamp.errors import BadInputError

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


HEX64 = "0123456789abcdef" * 4


@pytest.mark.parametrize("around", ["\n", " ", "\t", "\r\n", "\x00"])
def test_nothing_around_a_digest(around: str) -> None:
    """A digest followed (or preceded) by anything is not that digest: `$` alone would let a
    trailing newline through, and a manifest naming `sha256:<hex>\\n` would be read as the
    digest it is not."""
    for bad in (f"sha256:{HEX64}{around}", f"{around}sha256:{HEX64}"):
        assert not is_digest(bad)
        assert classify(bad).kind is DigestKind.MALFORMED
        with pytest.raises(BadInputError, match="malformed digest"):
            parse_digest(bad)
    assert parse_digest(f"sha256:{HEX64}") == Digest("sha256", HEX64)  # the honest twin


def test_placeholder_with_a_trailing_newline_is_malformed() -> None:
    assert classify("sha256:TODO").kind is DigestKind.PLACEHOLDER
    assert classify("sha256:TODO\n").kind is DigestKind.MALFORMED


@given(st.integers(min_value=257, max_value=100_000))
def test_overlong_text_is_malformed_without_reading_it(n: int) -> None:
    value = "sha256:" + "a" * n
    result = classify(value)
    assert result.kind is DigestKind.MALFORMED
    assert "longer than any digest" in result.reason
    with pytest.raises(BadInputError):
        parse_digest(value)
