"""Property tests: canonical JSON, base64/PEM decoding and payload parsing never crash and
round-trip where they should."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from clamp.trust.cosign_legacy import parse_simplesigning
from clamp.trust.encoding import b64decode, canonical_json, go_get, loads_json
from clamp.trust.errors import TrustError
from clamp.trust.keys import load_public_key
from clamp.trust.sign import simplesigning_payload

text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | text,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(text, children, max_size=4),
    max_leaves=20)


@given(json_values)
def test_canonical_json_is_stable_and_parseable(value: Any) -> None:
    once = canonical_json(value)
    assert json.loads(once) == value
    assert canonical_json(json.loads(once)) == once


@given(st.dictionaries(text, st.integers(-(2**53) + 1, 2**53 - 1), max_size=6))
def test_canonical_json_sorts_keys(value: dict[str, int]) -> None:
    decoded = json.loads(canonical_json(value))
    assert list(decoded) == sorted(value, key=lambda k: k.encode("utf-16-be"))


@given(st.binary(max_size=256))
def test_b64_round_trip(data: bytes) -> None:
    assert b64decode(base64.b64encode(data).decode(), check="x") == data


@given(st.text(max_size=64))
def test_b64_rejects_or_decodes_never_crashes(text: str) -> None:
    try:
        b64decode(text, check="x")
    except TrustError as exc:
        assert exc.check == "x"


@given(st.binary(max_size=512))
def test_pem_loader_never_crashes(data: bytes) -> None:
    try:
        load_public_key(b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(data)
                        + b"-----END PUBLIC KEY-----\n")
    except TrustError as exc:
        assert exc.check == "key"


@given(st.binary(max_size=512))
def test_payload_parser_never_crashes(data: bytes) -> None:
    try:
        parse_simplesigning(data)
    except TrustError as exc:
        assert exc.check == "payload"


@given(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64), st.text(max_size=40))
def test_payload_round_trip(hexdigest: str, reference: str) -> None:
    digest, ref = parse_simplesigning(simplesigning_payload(f"sha256:{hexdigest}", reference))
    assert (digest, ref) == (f"sha256:{hexdigest}", reference)


@given(st.sampled_from(["critical", "CRITICAL", "Critical", "cRiTiCaL"]))
def test_go_get_case_insensitive(key: str) -> None:
    assert go_get({key: 1}, "critical") == 1
    if key != "critical":
        # Go would read the last of two spellings; ambiguity reads as absent, never as a guess.
        assert go_get({"critical": 1, key: 2}, "critical") is None
        assert go_get({"Critical": 1, "CRITICAL": 2}, key) is None


def test_loads_json_rejects_duplicates_and_depth() -> None:
    for bad in (b'{"a":1,"a":2}', b"[" * 100 + b"]" * 100, b"NaN"):
        try:
            loads_json(bad, check="x")
        except TrustError:
            continue
        raise AssertionError(bad)
