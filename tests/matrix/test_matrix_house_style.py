"""`house_style._direct` writes exactly what ruamel's dumper writes, or leaves it to the dumper.

The direct renderer exists for speed (an update inserts one provenance block per entry), so the
only thing that matters about it is that it never writes a byte ruamel would not: every test
here compares it with the dumper itself, on generated values and on the quoting edge cases
(strings that read back as numbers, bools, null or dates; indicators; spaces; unicode; empty
and multi-line strings).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from clamp.matrix.house_style import _direct, plain, render, render_scalar, ruamel_render

# Characters that change how YAML quotes a string, mixed with ordinary ones.
_TRICKY = [*"aZ09_-./:#'\" @!&*?|>%`,[]{}~=+\\<$^()\t\n\r", "é", "ß", "\u00a0", "\u2028",
           "\ufeff", "😀", "\x85"]
_WORDS = ["true", "false", "True", "FALSE", "yes", "no", "on", "off", "null", "Null", "NULL",
          "~", "", " ", "-", "--", "---", "...", "?", ":", "=", "<<", "0", "00", "007", "-1",
          "+1", "1_000", "0x1f", "0o17", "0b11", "1e3", "1.5", ".5", "1.", "-.inf", ".nan",
          ".NaN", "6.4", "6.4.4", "2026-12-03", "2026-12-03T14:54:19Z", "2026-12-03 14:54:19",
          "2026-1-3", "12:30", "1:2:3", "sha256:" + "a" * 64, "a: b", "a #b", "a#b", "#a",
          "a:", "a ", " a", "a  b", "- a", "-a", "@a", "`a", "!a", "&a", "*a", "|", ">",
          "'a'", '"a"', "a'b", 'a"b', "a\\b", "a\nb", "a\n", "\n", "[a]", "{a: b}", "a,b",
          "%a", "https://github.com/ROCm/x/.github/workflows/release.yml@refs/tags/v1",
          "x" * 600, "y" * 99, "z" * 130, "a " * 300, "a " * 2100 + "a"]

_text = st.one_of(st.sampled_from(_WORDS), st.text(st.sampled_from(_TRICKY), max_size=12),
                  st.text(max_size=8))
_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.dates(), _text,
                    _text.map(DoubleQuotedScalarString), st.floats(allow_nan=False),
                    st.datetimes())
_value = st.recursive(
    _scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                     st.dictionaries(_text, inner, max_size=3)), max_leaves=8)
_data = st.dictionaries(_text, _value, min_size=1, max_size=4)


def provenance(**changes: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "verified_at": "2026-12-03T14:54:19Z", "tag": "6.4.4-ubuntu-22.04",
        "signature_kind": "cosign-simplesigning",
        "signer_identity": "https://github.com/ROCm/rocm-images/.github/workflows/"
                           "release.yml@refs/tags/rocm-6.4.4",
        "signer_issuer": "https://token.actions.githubusercontent.com",
        "key_fingerprint": "177a307eebda617c5269953e182ab82f14fbe790f20406187bbc886d98bd2fd9",
        "log_index": 123456789}
    block.update(changes)
    return block


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_data)
def test_direct_is_the_dumper_or_nothing(data: dict[str, Any]) -> None:
    value = plain(data)
    direct = _direct(value)
    if direct is not None:
        assert direct == ruamel_render(value)
    assert render(data, "native") == ruamel_render(value)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_WORDS) | st.text(st.sampled_from(_TRICKY), min_size=1, max_size=12))
def test_a_string_key_or_value_is_quoted_as_the_dumper_quotes_it(text: str) -> None:
    for data in ({"k": text}, {text: "v"}, {"p": {"k": [text, text]}},
                 {"k": DoubleQuotedScalarString(text)}):
        direct = _direct(plain(data))
        assert direct is None or direct == ruamel_render(plain(data)), data


@pytest.mark.parametrize("data", [
    {"provenance": provenance()},
    {"provenance": provenance(log_index=None)},
    provenance(),
    {"digest": "sha256:" + "0" * 64, "added": date(2026, 12, 3), "platform_digest": None},
    {"version": DoubleQuotedScalarString("6.4.4"), "os": "ubuntu-22.04",
     "digest": "sha256:" + "1" * 64, "added": date(2026, 1, 2), "platform": "linux/amd64",
     "trust": ["rocm-release", "mirror"], "provenance": provenance()},
    {"provenance": {"key_path": "ci/keys/rocm-mirror.pub", "identity": "a@example.com",
                    "issuer": "https://accounts.google.com", **provenance()}},
    {"k": "true"}, {"k": "6.4"}, {"k": "2026-12-03"}, {"k": "null"}, {"k": "0x1f"},
    {"k": "1_000"}, {"k": "0o17"}, {"k": "1e3"}, {"n": -5},
    {"b": False}, {"deep": {"a": {"b": {"c": [1, "x", None, True, date(2020, 1, 2)]}}}},
])
def test_the_shapes_an_update_writes_are_written_directly(data: dict[str, Any]) -> None:
    """These are rendered without ruamel (the fast path is really taken), identically."""
    direct = _direct(plain(data))
    assert direct is not None
    assert direct == ruamel_render(plain(data))


@pytest.mark.parametrize("value", [
    "", " ", "~", "=", "<<", "a ", " a", "a: b", "a:", "a #b", "#a", "-", "- a", "---x", "...",
    "@a", "`a", "'a", "a'b", '"a"', "a\nb", "é", "naïve", "\u2028", "x" * 600, "a " * 300,
    "a " * 2100 + "a",
    1.5, float("inf"), datetime(2026, 12, 3, 14, 54), [], {}, [[1]], [{"a": 1}], b"bytes",
    SingleQuotedScalarString("a"), DoubleQuotedScalarString('a"b'),
    DoubleQuotedScalarString(""), DoubleQuotedScalarString("é"),
])
def test_anything_else_is_left_to_the_dumper(value: Any) -> None:
    data = plain({"k": value})
    assert _direct(data) is None
    assert render({"k": value}, "native") == ruamel_render(data)


def test_keys_outside_the_safe_set_are_left_to_the_dumper() -> None:
    for key in ("", "a b: c", "k" * 128, "k" * 100, "é", "#k", "- k", "6.4", "true"):
        data = {key: "v"}
        assert _direct(data) is None or _direct(data) == ruamel_render(data)
    assert _direct({"k" * 128: "v"}) is None  # the emitter's complex-key form


@pytest.mark.parametrize(("value", "old"), [
    ("6.4.4", '"6.4.3"'), ("6.4", "'6.3'"), ("true", "x"), ("a'b", "'x'"), ('a"b', '"x"'),
    ("2026-12-03", "2026-12-01"), (date(2026, 12, 3), "2026-12-01"), (None, "x"), (7, "6"),
    ("sha256:" + "a" * 64, "sha256:" + "b" * 64),
])
def test_render_scalar_unchanged(value: Any, old: str) -> None:
    """`render_scalar` reads the direct renderer's text; what it returns is what it returned
    with the dumper alone."""
    reference = ruamel_render({"k": value}).strip()[len("k:"):].strip()
    if isinstance(value, str) and old[:1] in ("'", '"') and reference[:1] not in ("'", '"'):
        reference = ('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
                     if old[:1] == '"' else "'" + value.replace("'", "''") + "'")
    if value is None:
        reference = "null"
    assert render_scalar(value, old, "native") == reference
