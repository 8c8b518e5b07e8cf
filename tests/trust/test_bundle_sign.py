"""Bundles made by clamp.trust.sign verify in key mode; image subject checks; CLI exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.cli.main import app, invoke
from clamp.exitcodes import ExitCode, for_error
from clamp.trust.bundle import Artifact, verify_bundle
from clamp.trust.errors import TrustError
from clamp.trust.keys import PublicKey
from clamp.trust.policy import Policy
from clamp.trust.sign import sign_image_bundle

from .conftest import DIGEST, OTHER_DIGEST, REFERENCE


def test_image_bundle_verifies(signing_key: ec.EllipticCurvePrivateKey,
                               key_policy: Policy) -> None:
    raw = sign_image_bundle(signing_key, DIGEST, REFERENCE)
    result = verify_bundle(raw, Artifact.from_digest(DIGEST), key_policy)
    assert result.ok and result.signature_kind == "bundle-dsse"
    assert result.predicate_types == ["https://sigstore.dev/cosign/sign/v1"]


def test_subject_names_other_image(signing_key: ec.EllipticCurvePrivateKey,
                                   key_policy: Policy) -> None:
    raw = sign_image_bundle(signing_key, OTHER_DIGEST, REFERENCE)
    with pytest.raises(TrustError) as info:
        verify_bundle(raw, Artifact.from_digest(DIGEST), key_policy)
    assert info.value.check == "subject"


def test_predicate_type_filter(signing_key: ec.EllipticCurvePrivateKey,
                               key_policy: Policy) -> None:
    raw = sign_image_bundle(signing_key, DIGEST, REFERENCE)
    with pytest.raises(TrustError) as info:
        verify_bundle(raw, Artifact.from_digest(DIGEST), key_policy,
                      predicate_types=("https://slsa.dev/provenance/v1",))
    assert info.value.check == "predicate-type"


def test_dsse_wrong_key(key_policy: Policy) -> None:
    raw = sign_image_bundle(ec.generate_private_key(ec.SECP256R1()), DIGEST, REFERENCE)
    with pytest.raises(TrustError) as info:
        verify_bundle(raw, Artifact.from_digest(DIGEST), key_policy)
    assert info.value.check == "dsse" and for_error(info.value) == ExitCode.SIGNATURE_FAILED


def test_tlog_required_for_bundle(signing_key: ec.EllipticCurvePrivateKey,
                                  key_policy: Policy) -> None:
    from dataclasses import replace

    raw = sign_image_bundle(signing_key, DIGEST, REFERENCE)
    with pytest.raises(TrustError) as info:
        verify_bundle(raw, Artifact.from_digest(DIGEST), replace(key_policy, require_tlog=True))
    assert info.value.check == "tlog"


def test_verify_blob_cli_exit_codes(tmp_path: Path, signing_key: ec.EllipticCurvePrivateKey,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    statement_subject = tmp_path / "subject.bin"
    statement_subject.write_bytes(b"hello")
    import hashlib

    digest = "sha256:" + hashlib.sha256(b"hello").hexdigest()
    bundle = tmp_path / "b.json"
    bundle.write_bytes(sign_image_bundle(signing_key, digest, "blob"))
    pub = tmp_path / "k.pub"
    pub.write_bytes(PublicKey(signing_key.public_key()).pem)
    base = ["verify-blob", "--bundle", str(bundle)]
    # The bundle has no log entry: refused by default (as cosign), accepted with the opt-out.
    assert invoke(app, [*base, "--key", str(pub), str(statement_subject)],
                  prog_name="clamp") == ExitCode.SIGNATURE_FAILED
    assert "tlog" in capsys.readouterr().err
    assert invoke(app, [*base, "--key", str(pub), "--insecure-ignore-tlog", "--json",
                        str(statement_subject)], prog_name="clamp") == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "verified"
    other = tmp_path / "other.pub"
    other.write_bytes(PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem)
    assert invoke(app, [*base, "--key", str(other), "--insecure-ignore-tlog",
                        str(statement_subject)], prog_name="clamp") == ExitCode.SIGNATURE_FAILED
    assert invoke(app, [*base, "--certificate-identity", "x", "--certificate-oidc-issuer", "y",
                        str(statement_subject)], prog_name="clamp") == ExitCode.IDENTITY_MISMATCH
    assert invoke(app, [*base, str(statement_subject)], prog_name="clamp") == ExitCode.BAD_INPUT
    (tmp_path / "bad.json").write_text("{")  # a malformed bundle is bad input, not a bad signature
    assert invoke(app, ["verify-blob", "--bundle", str(tmp_path / "bad.json"), "--key", str(pub),
                        str(statement_subject)], prog_name="clamp") == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "Traceback" not in err and "check bundle failed" in err
