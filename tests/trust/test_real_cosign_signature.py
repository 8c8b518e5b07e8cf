"""A signature made by real cosign on the public-good Sigstore (keyless, Fulcio certificate with
an SCT, Rekor SET) verifies offline against the shipped trusted root — and fails closed when any
part of it is changed. The data is public test data (see data/real_cosign_keyless_legacy.json)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from clamp.trust.cosign_legacy import LegacyLayer, verify_legacy_layers
from clamp.trust.errors import TrustError
from clamp.trust.policy import Identity, Policy

DATA = json.loads((Path(__file__).parent / "data" / "real_cosign_keyless_legacy.json").read_text())
DIGEST = DATA["manifest_digest"]


def policy(identity: str = DATA["identity"], issuer: str = DATA["issuer"]) -> Policy:
    return Policy(identities=(Identity(subject=identity, issuer=issuer),), require_tlog=True)


def layer(payload: str = DATA["payload"], **changed: str) -> LegacyLayer:
    return LegacyLayer(payload.encode(), {**DATA["annotations"], **changed})


def test_real_keyless_signature_verifies_offline() -> None:
    result = verify_legacy_layers([layer()], DIGEST, policy())
    assert result.ok
    assert result.signer is not None
    assert (result.signer.identity, result.signer.issuer) == (DATA["identity"], DATA["issuer"])
    assert result.log_index == 13452680 and result.time_source == "set"
    assert result.integrated_time is not None and result.integrated_time.year == 2023


def _bundle(**payload_changes: Any) -> str:
    bundle = json.loads(DATA["annotations"]["dev.sigstore.cosign/bundle"])
    bundle["Payload"].update(payload_changes)
    return json.dumps(bundle)


@pytest.mark.parametrize(("name", "change", "check"), [
    ("set-over-other-integrated-time",
     {"dev.sigstore.cosign/bundle": _bundle(integratedTime=1676524986)}, "set"),
    ("set-with-unknown-log-id",
     {"dev.sigstore.cosign/bundle": _bundle(logID="00" * 32)}, "log-id"),
    ("signature-of-other-bytes",
     {"dev.cosignproject.cosign/signature": base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01")
      .decode()}, "signature"),
])
def test_tampering_fails_closed(name: str, change: dict[str, str], check: str) -> None:
    with pytest.raises(TrustError) as info:
        verify_legacy_layers([layer(**change)], DIGEST, policy())
    assert info.value.check.startswith(check), (name, info.value.check, str(info.value))


def test_payload_changed_after_signing() -> None:
    changed = DATA["payload"].replace('"optional":null', '"optional":{"x":"y"}')
    with pytest.raises(TrustError):
        verify_legacy_layers([layer(changed)], DIGEST, policy())


def test_other_image_digest_is_refused() -> None:
    with pytest.raises(TrustError) as info:
        verify_legacy_layers([layer()], "sha256:" + "0" * 64, policy())
    assert info.value.check == "payload-digest"


@pytest.mark.parametrize(("identity", "issuer"), [
    ("someone-else@example.com", DATA["issuer"]),
    (DATA["identity"], "https://accounts.google.com"),
])
def test_identity_and_issuer_are_enforced(identity: str, issuer: str) -> None:
    with pytest.raises(TrustError) as info:
        verify_legacy_layers([layer()], DIGEST, policy(identity, issuer))
    assert info.value.verdict == "identity_mismatch"
