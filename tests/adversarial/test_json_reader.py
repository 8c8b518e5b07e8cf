"""Property tests of the one JSON reader (Go semantics) and of the parsers built on it: bundles,
trusted roots, payloads and statements. Whatever the bytes, the answer is a value or a
`TrustError` naming the check (never another exception: that would be exit 70)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clamp.exitcodes import for_error
from clamp.trust.bundle import Artifact, verify_bundle
from clamp.trust.encoding import fold_key, loads_json
from clamp.trust.errors import MalformedError, TrustError, TrustInputError
from clamp.trust.keys import PublicKey
from clamp.trust.kinds import bundle_kind, layer_kind, parse_simplesigning
from clamp.trust.policy import Policy
from clamp.trust.root import parse_trusted_root
from tests.adversarial.conftest import run_clamp

KEYS = st.sampled_from(["a", "A", "critical", "CRITICAL", "k", "\u212a", "s", "\u017f",
                        "predicateType", "predicate_type", "mediaType", "MediaType", "x_y",
                        "xY", "digest", "Digest", "\ud800", "\udfff"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.lists(st.tuples(KEYS | st.text(max_size=4), inner), max_size=4),
    max_leaves=20)


def _encode(value: Any) -> str:
    """JSON text of `value`, where a list of pairs is an object (duplicates kept)."""
    if isinstance(value, list) and value and all(isinstance(p, tuple) for p in value):
        return "{" + ",".join(json.dumps(k) + ":" + _encode(v) for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value)


def _ambiguous(value: Any) -> bool:
    if isinstance(value, list) and value and all(isinstance(p, tuple) for p in value):
        folds = [fold_key(k) for k, _ in value]
        return len(set(folds)) != len(folds) or any(_ambiguous(v) for _, v in value)
    if isinstance(value, list):
        return any(_ambiguous(v) for v in value)
    return False


@settings(max_examples=400)
@given(JSON)
def test_reader_refuses_exactly_the_ambiguous_objects(value: Any) -> None:
    text = _encode(value)
    try:
        loads_json(text, check="x")
    except TrustError as exc:
        assert exc.check == "x"
        assert _ambiguous(value) or "surrogates" in str(exc) or "JSON" in str(exc)
        return
    assert not _ambiguous(value), text


def test_go_fold_pairs_are_one_key() -> None:
    for a, b in [("k", "\u212a"), ("s", "\u017f"), ("Docker-Manifest-Digest",
                                                      "docker-manifest-digest"),
                 ("predicateType", "predicate_type"), ("\ud800", "\udfff")]:
        assert fold_key(a) == fold_key(b), (a, b)


@given(st.binary(max_size=300))
def test_reader_on_any_bytes(data: bytes) -> None:
    with contextlib.suppress(TrustError):
        loads_json(data, check="x")


@settings(max_examples=300)
@given(JSON)
def test_bundle_parser_never_crashes(value: Any) -> None:
    raw = _encode(value).encode()
    with contextlib.suppress(TrustError):
        verify_bundle(raw, Artifact.from_bytes(b"x"), Policy.with_root(_ROOT, keys=()))
    bundle_kind(raw)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(["mediaType", "tlogs", "ctlogs",
                                           "certificateAuthorities", "timestampAuthorities"]),
                          JSON), max_size=5))
def test_trusted_root_parser_says_bad_input(pairs: list[tuple[str, Any]]) -> None:
    doc = [("mediaType", "application/vnd.dev.sigstore.trustedroot+json;version=0.1"), *pairs]
    with contextlib.suppress(TrustInputError):
        parse_trusted_root(_encode(doc).encode())


@given(JSON)
def test_payload_and_layer_parsers_never_crash(value: Any) -> None:
    raw = _encode(value).encode()
    with contextlib.suppress(TrustError):
        parse_simplesigning(raw)
    for media_type in ("application/vnd.dev.cosign.simplesigning.v1+json",
                       "application/vnd.dsse.envelope.v1+json", "x"):
        layer_kind(media_type, raw)


def test_malformed_bundle_is_bad_input() -> None:
    for raw in (b"[]", b'{"mediaType": []}', b"{", b'{"mediaType": '
                b'"application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial": []}'):
        try:
            verify_bundle(raw, Artifact.from_bytes(b"x"), Policy.with_root(_ROOT, keys=()))
        except MalformedError as exc:
            assert for_error(exc) == 64
        else:
            raise AssertionError(raw)


def _root() -> Any:
    from clamp.trust.pki import TestSigstore

    return TestSigstore().trusted_root()


_ROOT = _root()


@pytest.fixture(scope="module")
def blob_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("blob")
    pub = folder / "k.pub"
    pub.write_bytes(PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem)
    artifact = folder / "artifact"
    artifact.write_bytes(b"hello")
    return folder, pub, artifact


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(JSON, st.booleans())
def test_verify_blob_fuzz_never_exit_70(blob_files: tuple[Path, Path, Path], value: Any,
                                        as_bundle: bool) -> None:
    """Any JSON as the bundle (or inside a bundle's frame): one line, a documented code."""
    folder, pub, artifact = blob_files
    doc = value if not as_bundle else [("mediaType", "application/vnd.dev.sigstore.bundle.v0.3"
                                                    "+json"), ("verificationMaterial", value),
                                       ("dsseEnvelope", value)]
    path = folder / "bundle.json"
    path.write_text(_encode(doc))
    code, err = run_clamp("verify-blob", "--bundle", str(path), "--key", str(pub), str(artifact))
    assert code in (3, 4, 5, 64), err
    assert err.count("\n") == 1, err
