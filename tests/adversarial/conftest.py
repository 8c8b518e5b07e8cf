"""A registry an attacker can write to: crafted `.sig`/`.att` manifests, referrers and bundles
pushed byte for byte into the real docker-registry, then judged by `clamp verify --image` and
`clamp verify --matrix` (strict) exactly as CI runs them.

The signing key and the private sigstore are the ones the policy trusts: every attack here is
"the trusted signer signed *something*", and the question is whether clamp reads that something
as what it is.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.cli.main import app, invoke
from clamp.trust.keys import PublicKey, sign_bytes
from clamp.trust.mediatypes import (
    ANN_SIGNATURE,
    DSSE_MEDIA_TYPE,
    INTOTO_PAYLOAD_TYPE,
    SIMPLESIGNING_MEDIA_TYPE,
)
from clamp.trust.rekor_body import Envelope
from tests.support.pushing import (
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    RegistryPusher,
    canonical_json,
    push_image,
)
from tests.support.registry import RegistryHandle

IDENTITY = "https://github.com/ROCm/rocm-images/.github/workflows/release.yml@refs/tags/v6.4.4"
ISSUER = "https://token.actions.githubusercontent.com"
SLSA = "https://slsa.dev/provenance/v1"
VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"
COSIGN_SIGN = "https://sigstore.dev/cosign/sign/v1"
COSIGN_SIG_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
COSIGN_ATT_ARTIFACT = "application/vnd.dev.cosign.artifact.att.v1+json"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
TAG = "6.4.4-ubuntu-22.04"
RECENT = (date.today() - timedelta(days=1)).isoformat()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Layer:
    """One layer of a signature manifest, as an attacker would write it."""

    media_type: str
    payload: bytes
    annotations: dict[str, str] = field(default_factory=dict)
    size: int | None = None  # a declared size other than the payload's
    gone: bool = False  # the blob is deleted after the manifest is stored (a 404 on fetch)


@dataclass(frozen=True)
class Signer:
    key: ec.EllipticCurvePrivateKey
    pub: Path

    def simple(self, payload: bytes) -> Layer:
        """A `.sig` layer: `payload` signed over its bytes, as `cosign sign --key` does."""
        return Layer(SIMPLESIGNING_MEDIA_TYPE, payload,
                     {ANN_SIGNATURE: b64(sign_bytes(self.key, payload))})

    def envelope(self, statement: bytes, payload_type: str = INTOTO_PAYLOAD_TYPE) -> bytes:
        sig = sign_bytes(self.key, Envelope(payload_type, statement, ()).pae())
        return json.dumps({"payloadType": payload_type, "payload": b64(statement),
                           "signatures": [{"keyid": "", "sig": b64(sig)}]},
                          separators=(",", ":")).encode()

    def dsse(self, statement: bytes) -> Layer:
        """An `.att` layer: a DSSE envelope over `statement`, as `cosign attest --key` does."""
        return Layer(DSSE_MEDIA_TYPE, self.envelope(statement), {ANN_SIGNATURE: ""})

    def bundle(self, statement: bytes) -> bytes:
        """A v0.3 bundle holding a DSSE envelope over `statement` (key verification material)."""
        return json.dumps({"mediaType": BUNDLE_V03,
                           "verificationMaterial": {"publicKey": {"hint": ""},
                                                    "tlogEntries": []},
                           "dsseEnvelope": json.loads(self.envelope(statement))},
                          separators=(",", ":")).encode()


def simple_payload(digest: str, reference: str = "registry/repo") -> bytes:
    """cosign's simple-signing payload, byte for byte (its key order)."""
    return (b'{"critical":{"identity":{"docker-reference":"' + reference.encode()
            + b'"},"image":{"docker-manifest-digest":"' + digest.encode()
            + b'"},"type":"cosign container image signature"},"optional":null}')


def statement(digest: str, predicate_type: str = SLSA, *,
              raw_digest: dict[str, str] | None = None) -> bytes:
    hexdigest = digest.partition(":")[2]
    return json.dumps({"_type": "https://in-toto.io/Statement/v1",
                       "subject": [{"name": "registry/repo",
                                    "digest": raw_digest or {"sha256": hexdigest}}],
                       "predicateType": predicate_type, "predicate": {}},
                      separators=(",", ":")).encode()


@dataclass
class Attack:
    """A fresh image in its own repository, and the ways to store crafted signatures for it."""

    registry: RegistryHandle
    repo: str
    pusher: RegistryPusher
    folder: Path
    digest: str = ""
    _gone: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.registry.host}/{self.repo}"

    @property
    def image(self) -> str:
        return f"{self.name}:{TAG}"

    def push_image(self) -> str:
        self.digest = push_image(self.pusher, self.repo, TAG).digest
        return self.digest

    def _manifest(self, layers: Sequence[Layer], *, artifact_type: str | None = None,
                  subject: dict[str, Any] | None = None) -> bytes:
        descriptors = []
        pushed: dict[bytes, str] = {}
        for layer in layers:
            if layer.payload not in pushed:
                pushed[layer.payload] = self.pusher.push_blob(self.repo, layer.payload)
            digest = pushed[layer.payload]
            if layer.gone:
                self._gone.append(digest)
            descriptors.append({"mediaType": layer.media_type,
                                "size": len(layer.payload) if layer.size is None else layer.size,
                                "digest": digest,
                                **({"annotations": layer.annotations}
                                   if layer.annotations else {})})
        config = b"{}"
        body: dict[str, Any] = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_EMPTY if artifact_type else
                       "application/vnd.oci.image.config.v1+json",
                       "size": len(config), "digest": self.pusher.push_blob(self.repo, config)},
            "layers": descriptors}
        if artifact_type:
            body["artifactType"] = artifact_type
        if subject:
            body["subject"] = subject
        return canonical_json(body)

    def push_tag(self, suffix: str, layers: Sequence[Layer]) -> None:
        """`sha256-<hex>.sig` (or `.att`) holding `layers`, as cosign's legacy layout."""
        tag = self.digest.replace(":", "-") + suffix
        self.pusher.push_manifest(self.repo, tag, self._manifest(layers), OCI_MANIFEST)
        self._drop_gone()

    def _drop_gone(self) -> None:
        for digest in self._gone:  # the registry checks blobs on push, not afterwards
            resp = self.pusher.request("DELETE", f"/v2/{self.repo}/blobs/{digest}",
                                       repo=self.repo, actions="*")
            assert resp.status_code == 202, resp.text
        self._gone.clear()

    def push_referrer(self, artifact_type: str, layers: Sequence[Layer]) -> None:
        """An OCI 1.1 referrer of the image (docker-registry 2.8 has no referrers API, so it is
        listed in the `sha256-<hex>` fallback index, as cosign and oras do there)."""
        image = self.pusher.get_manifest(self.repo, self.digest)
        subject = {"mediaType": image.media_type, "size": len(image.data), "digest": self.digest}
        raw = self._manifest(layers, artifact_type=artifact_type, subject=subject)
        referrer = self.pusher.push_manifest(self.repo, "sha256:" + hashlib.sha256(raw).hexdigest(),
                                             raw, OCI_MANIFEST)
        fallback = self.digest.replace(":", "-")
        try:
            index = json.loads(self.pusher.get_manifest(self.repo, fallback).data)
        except Exception:  # not there yet
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        index["manifests"].append({"mediaType": OCI_MANIFEST, "size": len(raw),
                                   "digest": referrer, "artifactType": artifact_type})
        self.pusher.push_manifest(self.repo, fallback, canonical_json(index), OCI_INDEX)
        self._drop_gone()

    def push_bundle(self, bundle: bytes) -> None:
        self.push_referrer(BUNDLE_V03, [Layer(BUNDLE_V03, bundle)])

    # -- judging ---------------------------------------------------------------------------------
    def verify_image(self, *flags: str) -> tuple[int, str]:
        """`clamp verify --image` with `flags`: (exit code, stderr)."""
        return run_clamp("verify", "--image", self.image, *flags)

    def write_matrix(self, trust: str, *, digest: str | None = None, name: str = "signer",
                     attest_mode: str | None = None, entry: str = "") -> Path:
        """A native matrix (strict) with one entry pinned to `digest` (the image's by default),
        trusting `trust` (the body of the trust entry `name`); `entry` adds lines to the entry."""
        matrix = self.folder / "ci" / "rocm_matrix.yml"
        matrix.parent.mkdir(parents=True, exist_ok=True)
        attest = f"\n  attest_mode: {attest_mode}" if attest_mode is not None else ""
        matrix.write_text(f"""version: 1
defaults:
  registry: "{self.registry.host}"
  repository: {self.repo}
  tag: "{{version}}-{{os}}"
  policy: strict
  trust: [{name}]{attest}
trust:
  {name}:
{trust}
images:
  - version: "6.4.4"
    os: ubuntu-22.04
    digest: {digest or self.digest}
    added: {RECENT}
{entry}""")
        return matrix

    def verify_matrix(self, trust: str, *, attest_mode: str = "off") -> tuple[int, dict[str, Any]]:
        """`clamp verify --matrix` (strict) over one entry pinned to the image: (exit code, its
        provenance record)."""
        matrix = self.write_matrix(trust, attest_mode=attest_mode)
        out = self.folder / "rocm_provenance.json"
        code, err = run_clamp("verify", "--matrix", str(matrix), "-o", str(out))
        assert out.exists(), err
        return code, json.loads(out.read_text())["records"][0]


def run_clamp(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = invoke(app, list(argv), prog_name="clamp")
    text = err.getvalue()
    assert "Traceback" not in text and code != 70, text
    return code, text


def key_trust(signer: Signer, attestations: Sequence[str] = ()) -> str:
    lines = ["    keys:", f"      - path: {signer.pub}", "    tlog: optional"]
    if attestations:
        lines.append("    attestations: [" + ", ".join(attestations) + "]")
    return "\n".join(lines)


def keyless_trust(root: Path) -> str:
    return "\n".join(["    keyless:", f"      - issuer: {ISSUER}", f"        subject: {IDENTITY}",
                      f"    trusted_root: {root}"])


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp_path_factory.mktemp("keys") / "trusted.pub"
    pub.write_bytes(PublicKey(key.public_key()).pem)
    return Signer(key, pub)


@pytest.fixture
def attack(registry: RegistryHandle, repo_name: str, tmp_path: Path,
           make_pusher: Callable[..., RegistryPusher]) -> Iterator[Attack]:
    """A fresh image in its own repository of the real registry."""
    world = Attack(registry, repo_name, make_pusher(registry), tmp_path)
    world.push_image()
    yield world


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Any:
    """A 64 KiB tmpfs of our own, for full-disk tests (root only; skipped where it cannot be
    mounted)."""
    import subprocess

    where = tmp_path / "tiny"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)
