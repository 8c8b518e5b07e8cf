"""A registry that serves one signature layer's blob wrongly (bytes that do not hash to the
digest) cannot deny the valid layer beside it; with nothing else to verify, the verdict fails
closed as the registry's error and names the layer."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.trust.keys import PublicKey, sign_bytes
from clamp.trust.mediatypes import ANN_SIGNATURE, SIMPLESIGNING_MEDIA_TYPE
from tests.adversarial.conftest import b64, run_clamp, simple_payload
from tests.support.hostile_registry import Answer, hostile_registry

OCI = "application/vnd.oci.image.manifest.v1+json"
IMAGE = json.dumps({"schemaVersion": 2, "mediaType": OCI, "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "0" * 64,
    "size": 2}, "layers": []}).encode()
IMAGE_DIGEST = "sha256:" + hashlib.sha256(IMAGE).hexdigest()
SIG_TAG = IMAGE_DIGEST.replace(":", "-") + ".sig"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[ec.EllipticCurvePrivateKey, Path]:
    private = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path_factory.mktemp("k") / "k.pub"
    path.write_bytes(PublicKey(private.public_key()).pem)
    return private, path


def _serve(layers: list[tuple[bytes, bytes, str]]):  # type: ignore[no-untyped-def]
    """`layers`: (payload the descriptor names, bytes actually served, signature)."""
    descriptors = [{"mediaType": SIMPLESIGNING_MEDIA_TYPE, "digest": _digest(named),
                    "size": len(named), "annotations": {ANN_SIGNATURE: sig}}
                   for named, _, sig in layers]
    sig = json.dumps({"schemaVersion": 2, "mediaType": OCI, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": "sha256:" + "1" * 64, "size": 2}, "layers": descriptors}).encode()
    blobs = {_digest(named): served for named, served, _ in layers}

    def script(method: str, path: str) -> Answer:
        if path.endswith(f"/manifests/{SIG_TAG}"):
            return Answer(200, sig, {"Content-Type": OCI})
        if "/manifests/t" in path or path.endswith(f"/manifests/{IMAGE_DIGEST}"):
            return Answer(200, IMAGE, {"Content-Type": OCI})
        for digest, served in blobs.items():
            if path.endswith(f"/blobs/{digest}"):
                return Answer(200, served)
        return Answer(404, b"")
    return script


@pytest.mark.parametrize("bad_first", [True, False])
def test_a_layer_failing_its_digest_does_not_deny_the_valid_one(
        bad_first: bool, key: tuple[ec.EllipticCurvePrivateKey, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAMP_RETRY_ATTEMPTS", "1")
    private, pub = key
    good = simple_payload(IMAGE_DIGEST)
    other = simple_payload(IMAGE_DIGEST, "elsewhere")
    signature = b64(sign_bytes(private, good))
    bad = (other, other[:-1] + b" ", b64(sign_bytes(private, other)))  # served bytes lie
    layers = [bad, (good, good, signature)] if bad_first else [(good, good, signature), bad]
    with hostile_registry(_serve(layers)) as srv:
        code, err = run_clamp("verify", "--image", f"{srv.host}/r/x:t", "--key", str(pub),
                              "--insecure-ignore-tlog")
    assert code == 0, err


def test_only_a_lying_layer_fails_closed_naming_it(
        key: tuple[ec.EllipticCurvePrivateKey, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAMP_RETRY_ATTEMPTS", "1")
    private, pub = key
    good = simple_payload(IMAGE_DIGEST)
    with hostile_registry(_serve([(good, good + b" ", b64(sign_bytes(private, good)))])) as srv:
        code, err = run_clamp("verify", "--image", f"{srv.host}/r/x:t", "--key", str(pub),
                              "--insecure-ignore-tlog")
    assert code == 69 and "layer 0" in err and err.count("\n") == 1, err
