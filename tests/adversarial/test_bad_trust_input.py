"""Trust material the user hands over that cannot be used is bad input (exit 64, one line naming
the file), found before any registry is asked: a trusted root with a list where a string or an
object belongs, named by `--trusted-root` or by a matrix's `trusted_root`, and malformed bundles
given to `verify-blob`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.trust.keys import PublicKey
from clamp.trust.pki import TestSigstore
from clamp.trust.sign import sign_image_bundle
from tests.adversarial.conftest import run_clamp

ROOT_DAMAGE = {
    "mediaType-list": lambda d: {**d, "mediaType": []},
    "tlogs-object": lambda d: {**d, "tlogs": {}},
    "logId-list": lambda d: {**d, "tlogs": [{**d["tlogs"][0], "logId": []}]},
    "certChain-list": lambda d: {**d, "certificateAuthorities": [
        {**d["certificateAuthorities"][0], "certChain": []}]},
    "validFor-string": lambda d: {**d, "ctlogs": [
        {**d["ctlogs"][0], "publicKey": {**d["ctlogs"][0]["publicKey"], "validFor": "x"}}]},
}


def _damaged_root(tmp_path: Path, how: str) -> Path:
    doc = json.loads(TestSigstore().trusted_root_json())
    path = tmp_path / "trusted_root.json"
    path.write_text(json.dumps(ROOT_DAMAGE[how](doc)))
    return path


@pytest.mark.parametrize("how", sorted(ROOT_DAMAGE))
def test_unusable_trusted_root_flag_is_bad_input(how: str, tmp_path: Path) -> None:
    root = _damaged_root(tmp_path, how)
    # No registry listens on this port: the root must be refused before one is asked.
    code, err = run_clamp("verify", "--image", "127.0.0.1:9/r/x:t", "--certificate-identity",
                          "x", "--certificate-oidc-issuer", "y", "--trusted-root", str(root))
    assert code == 64 and str(root) in err and err.count("\n") == 1, err


@pytest.mark.parametrize("command", ["verify", "update"])
@pytest.mark.parametrize("how", ["mediaType-list", "certChain-list"])
def test_unusable_trusted_root_in_a_matrix_is_bad_input_at_load(how: str, command: str,
                                                                tmp_path: Path) -> None:
    root = _damaged_root(tmp_path, how)
    matrix = tmp_path / "m.yml"
    matrix.write_text(f"""version: 1
defaults:
  registry: "127.0.0.1:9"
  repository: r/x
  trust: [t]
trust:
  t:
    keyless:
      - issuer: https://token.actions.githubusercontent.com
        subject: https://github.com/o/r/.github/workflows/w.yml@refs/heads/main
    trusted_root: {root}
images:
  - version: "1"
    os: linux
    digest: sha256:{"a" * 64}
""")
    args = ["-o", str(tmp_path / "p.json")] if command == "verify" else []
    code, err = run_clamp(command, "--matrix", str(matrix), *args)
    assert code == 64, err
    assert "trusted_root" in err and str(root) in err and err.count("\n") == 1, err
    assert not (tmp_path / "p.json").exists()


def _bundle(tmp_path: Path) -> tuple[dict[str, object], Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp_path / "k.pub"
    pub.write_bytes(PublicKey(key.public_key()).pem)
    artifact = tmp_path / "artifact"
    artifact.write_bytes(b"hello")
    digest = "sha256:" + hashlib.sha256(b"hello").hexdigest()
    return json.loads(sign_image_bundle(key, digest, "blob")), pub, artifact


BUNDLE_DAMAGE = {
    "not-json": None,
    "top-level-list": lambda b: [b],
    "verificationMaterial-list": lambda b: {**b, "verificationMaterial": [1]},
    "publicKey-list": lambda b: {**b, "verificationMaterial": {"publicKey": [1]}},
    "tlogEntries-object": lambda b: {**b, "verificationMaterial": {
        **b["verificationMaterial"], "tlogEntries": {}}},
    "tlog-entry-list": lambda b: {**b, "verificationMaterial": {
        **b["verificationMaterial"], "tlogEntries": [[]]}},
    "dsseEnvelope-list": lambda b: {**b, "dsseEnvelope": [b["dsseEnvelope"]]},
    "signatures-object": lambda b: {**b, "dsseEnvelope": {**b["dsseEnvelope"],
                                                          "signatures": {}}},
    "timestamps-list-of-lists": lambda b: {**b, "verificationMaterial": {
        **b["verificationMaterial"],
        "timestampVerificationData": {"rfc3161Timestamps": [[]]}}},
    "mediaType-list": lambda b: {**b, "mediaType": []},
    "case-variant-keys": lambda b: {**b, "MediaType": b["mediaType"]},
    "no-content": lambda b: {k: v for k, v in b.items() if k != "dsseEnvelope"},
}


@pytest.mark.parametrize("how", sorted(BUNDLE_DAMAGE))
def test_malformed_bundle_to_verify_blob_is_bad_input(how: str, tmp_path: Path) -> None:
    bundle, pub, artifact = _bundle(tmp_path)
    damage = BUNDLE_DAMAGE[how]
    path = tmp_path / "bundle.json"
    path.write_text("{" if damage is None else json.dumps(damage(bundle)))
    code, err = run_clamp("verify-blob", "--bundle", str(path), "--key", str(pub),
                          str(artifact))
    assert code == 64 and err.count("\n") == 1, err


def test_well_formed_bundle_twin_verifies(tmp_path: Path) -> None:
    bundle, pub, artifact = _bundle(tmp_path)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    code, err = run_clamp("verify-blob", "--bundle", str(path), "--key", str(pub),
                          "--insecure-ignore-tlog", str(artifact))  # no log entry in it
    assert code == 0, err
