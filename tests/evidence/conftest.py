"""Worlds for the evidence tests: the demo's (tests/verify/conftest.py: keyless Fulcio+Rekor,
key, bundle, unsigned, tampered, wrong identity, drift) and `logged_world` (below)."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.atomic import write_atomic
from clamp.demo.images import put_image
from clamp.location import Layout
from clamp.oci.reference import Reference
from clamp.oci.store import Stores
from clamp.signed.attach import push_legacy_signature
from clamp.trust.keyfile import encrypt_private_key
from clamp.trust.keys import PublicKey
from clamp.trust.mediatypes import (
    ANN_BUNDLE,
    ANN_CERTIFICATE,
    ANN_CHAIN,
    ANN_SIGNATURE,
    ANN_TIMESTAMP,
)
from clamp.trust.pki import TestSigstore, hashedrekord
from clamp.trust.sign import sign_image_legacy, simplesigning_payload
from tests.support.tsa import OpensslTsa
from tests.verify.conftest import demo_world

__all__ = ["LoggedWorld", "demo_world", "logged_world"]

REPOSITORY = "rocm/logged"
RELEASE = "https://github.com/ROCm/rocm-images/.github/workflows/release.yml@refs/tags/v1"
ISSUER = "https://token.actions.githubusercontent.com"
KEY_PASSWORD = "evidence-test"


@dataclass(frozen=True)
class LoggedWorld:
    """Signatures the demo does not make: a key signature with a Rekor SET (tlog required), a
    keyless one whose certificate expired hours ago but was logged while valid, a key signature
    whose SET logs another signature (invalid), and a key signature timestamped by an RFC 3161
    TSA (`cosign sign --timestamp-server-url`; `openssl ts` answers)."""

    out: Path
    matrix: Path
    layout: Path
    trusted_root: Path
    public_key: Path
    private_key: Path


async def _build(out: Path, pki: TestSigstore, key: ec.EllipticCurvePrivateKey,
                 tsa: OpensslTsa) -> list[str]:
    layout = out / "layout"
    name = f"{layout}/{REPOSITORY}"
    lines: list[str] = []
    async with Stores() as stores:
        store = stores.open(Reference(Layout(str(layout)), REPOSITORY))
        for build, story in enumerate(("key-set", "expired-keyless", "set-other", "key-tsa"),
                                      start=1):
            image = await put_image(store, REPOSITORY, story, version=f"9.{build}.0",
                                    os_name="ubuntu-24.04", build=build)
            digest = str(image.digest)
            if story == "expired-keyless":
                signer = ec.generate_private_key(ec.SECP256R1())
                issued = datetime.now(UTC) - timedelta(hours=3)
                cert = pki.issue_leaf(signer, identity=RELEASE, issuer=ISSUER, issued_at=issued,
                                      lifetime=timedelta(minutes=10))
                payload = simplesigning_payload(digest, name)
                sig = signer.sign(payload, ec.ECDSA(hashes.SHA256()))
                cert_pem = cert.public_bytes(serialization.Encoding.PEM)
                chain = b"".join(c.public_bytes(serialization.Encoding.PEM)
                                 for c in (pki.intermediate_cert, pki.root_cert))
                annotations = {
                    ANN_SIGNATURE: base64.b64encode(sig).decode(),
                    ANN_CERTIFICATE: cert_pem.decode(), ANN_CHAIN: chain.decode(),
                    ANN_BUNDLE: pki.rekor_bundle(hashedrekord(sig, payload, cert_pem),
                                                 integrated_time=int(
                                                     (issued + timedelta(minutes=2)).timestamp()))}
            elif story == "key-tsa":
                layer = sign_image_legacy(key, digest, name)
                payload, annotations = layer.payload, dict(layer.annotations)
                stamp = tsa.timestamp(base64.b64decode(annotations[ANN_SIGNATURE]))
                annotations[ANN_TIMESTAMP] = json.dumps(
                    {"SignedRFC3161Timestamp": base64.b64encode(stamp).decode()})
            else:
                layer = sign_image_legacy(key, digest, name)
                payload, annotations = layer.payload, dict(layer.annotations)
                sig = base64.b64decode(annotations[ANN_SIGNATURE])
                logged = (sig if story == "key-set" else
                          key.sign(b"another payload", ec.ECDSA(hashes.SHA256())))
                annotations[ANN_BUNDLE] = pki.rekor_bundle(hashedrekord(
                    logged, payload, PublicKey(key.public_key()).pem))
            await push_legacy_signature(store, REPOSITORY, image.digest, payload, annotations)
            lines += [f'  - version: "9.{build}.0"', "    os: ubuntu-24.04",
                      f"    tag: {story}", f"    digest: {digest}"]
            if story == "key-tsa":
                lines.append("    trust: [stamped-key]")
    return lines


@pytest.fixture(scope="module")
def logged_world(tmp_path_factory: pytest.TempPathFactory) -> LoggedWorld:
    out = tmp_path_factory.mktemp("logged")
    pki = TestSigstore()
    key = ec.generate_private_key(ec.SECP256R1())
    world = LoggedWorld(out=out, matrix=out / "ci/matrix.yml", layout=out / "layout",
                        trusted_root=out / "trust/root.json", public_key=out / "keys/k.pub",
                        private_key=out / "keys/k.key")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (the TSA)")
    tsa = OpensslTsa(out / "tsa")
    root = json.loads(pki.trusted_root_json())
    root["timestampAuthorities"].append(tsa.authority_json())
    write_atomic(world.trusted_root, json.dumps(root, indent=2))
    write_atomic(world.public_key, PublicKey(key.public_key()).pem)
    write_atomic(world.private_key, encrypt_private_key(key, KEY_PASSWORD.encode()), mode=0o600)
    images = asyncio.run(_build(out, pki, key, tsa))
    write_atomic(world.matrix, "\n".join([
        "version: 1",
        "defaults:",
        f'  registry: "oci:{world.layout}"',
        f"  repository: {REPOSITORY}",
        "  policy: strict",
        "  trust: [release, logged-key]",
        "trust:",
        "  release:",
        "    keyless:",
        f"      - issuer: {ISSUER}",
        f"        subject: {RELEASE}",
        "    tlog: required",
        "    trusted_root: ../trust/root.json",
        "  logged-key:",
        "    keys:",
        "      - path: ../keys/k.pub",
        "    tlog: required",
        "    trusted_root: ../trust/root.json",
        "  stamped-key:",
        "    keys:",
        "      - path: ../keys/k.pub",
        "    tlog: optional",
        "    trusted_root: ../trust/root.json",
        "images:", *images]) + "\n")
    return world
