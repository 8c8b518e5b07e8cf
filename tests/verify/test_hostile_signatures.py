"""Signature data from a hostile registry: wrong blob bytes, too many layers, oversized layers.

Each must end in a one-line error or a non-valid verdict; nothing unhashed is ever trusted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.cli.main import app, invoke
from clamp.trust.keys import PublicKey
from tests.support.hostile_registry import Answer, hostile_registry

OCI = "application/vnd.oci.image.manifest.v1+json"
IMAGE = json.dumps({"schemaVersion": 2, "mediaType": OCI, "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "0" * 64,
    "size": 2}, "layers": []}).encode()
IMAGE_DIGEST = "sha256:" + hashlib.sha256(IMAGE).hexdigest()
SIG_TAG = IMAGE_DIGEST.replace(":", "-") + ".sig"
PAYLOAD = b'{"critical":{}}'
PAYLOAD_DIGEST = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()


def sig_manifest(layers: int = 1, size: int = len(PAYLOAD)) -> bytes:
    layer = {"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
             "digest": PAYLOAD_DIGEST, "size": size,
             "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="}}
    return json.dumps({"schemaVersion": 2, "mediaType": OCI, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": "sha256:" + "1" * 64, "size": 2}, "layers": [layer] * layers}).encode()


def serve(sig: bytes, blob: bytes):  # type: ignore[no-untyped-def]
    def script(method: str, path: str) -> Answer:
        if path.endswith(f"/manifests/{SIG_TAG}"):
            return Answer(200, sig, {"Content-Type": OCI})
        if "/manifests/t" in path or path.endswith(f"/manifests/{IMAGE_DIGEST}"):
            return Answer(200, IMAGE, {"Content-Type": OCI})
        if f"/blobs/{PAYLOAD_DIGEST}" in path:
            return Answer(200, blob)
        return Answer(404, b"")
    return script


@pytest.fixture(scope="module")
def pub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("k") / "k.pub"
    path.write_bytes(PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem)
    return path


@pytest.mark.parametrize(("sig", "blob", "needle"), [
    (sig_manifest(), b"other bytes", "hash to"),
    (sig_manifest(layers=1001), PAYLOAD, "layers (bound"),  # above cosign's own bound
])
def test_hostile_signature_data_is_a_registry_error(pub: Path, sig: bytes, blob: bytes,
                                                    needle: str,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAMP_RETRY_ATTEMPTS", "1")
    with hostile_registry(serve(sig, blob)) as srv:
        code = invoke(app, ["verify", "--image", f"{srv.host}/r/x:t", "--key", str(pub)],
                      prog_name="clamp")
    err = capsys.readouterr().err
    assert code == 69, err
    assert needle in err and err.count("\n") == 1


def test_oversized_signature_layer_is_skipped_not_fetched(pub: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    with hostile_registry(serve(sig_manifest(size=64 * 1024 * 1024), PAYLOAD)) as srv:
        code = invoke(app, ["verify", "--image", f"{srv.host}/r/x:t", "--key", str(pub),
                            "--json"], prog_name="clamp")
        fetched_blob = any("/blobs/" in path for _, path in srv.requests)
    out = json.loads(capsys.readouterr().out)
    assert code == 4  # nothing usable: unsigned, and the reason says why
    assert not fetched_blob
    assert "exceeds the bound" in " ".join(out["found"][0]["problems"])
