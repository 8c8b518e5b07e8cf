"""Legacy `.sig` layers: key mode, keyless mode, and one negative test per check."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.exitcodes import ExitCode, for_error
from clamp.trust.cosign_legacy import LegacyLayer, verify_legacy_layer, verify_legacy_layers
from clamp.trust.errors import TrustError
from clamp.trust.keys import PublicKey
from clamp.trust.mediatypes import ANN_BUNDLE, ANN_SIGNATURE
from clamp.trust.pki import Log, TestSigstore, hashedrekord, keyless_sign_image
from clamp.trust.policy import Identity, Policy
from clamp.trust.sign import sign_image_legacy, simplesigning_payload

from .conftest import DIGEST, IDENTITY, ISSUER, OTHER_DIGEST, REFERENCE


def expect_fail(check: str, layer: LegacyLayer, policy: Policy, digest: str = DIGEST,
                code: ExitCode = ExitCode.SIGNATURE_FAILED) -> TrustError:
    with pytest.raises(TrustError) as info:
        verify_legacy_layer(layer, digest, policy)
    assert info.value.check == check, str(info.value)
    assert f"check {check} failed" in str(info.value)
    assert for_error(info.value) == code
    return info.value


def keyless(pki: TestSigstore, **options: object) -> LegacyLayer:
    return keyless_sign_image(pki, DIGEST, REFERENCE, identity=IDENTITY, issuer=ISSUER,
                              **options)  # type: ignore[arg-type]


def with_ann(layer: LegacyLayer, **changes: str) -> LegacyLayer:
    annotations = dict(layer.annotations)
    for key, value in changes.items():
        annotations[{"signature": ANN_SIGNATURE, "bundle": ANN_BUNDLE}[key]] = value
    return replace(layer, annotations=annotations)


# --- key mode ---------------------------------------------------------------------------

def test_key_mode_verifies(signing_key: ec.EllipticCurvePrivateKey, key_policy: Policy) -> None:
    result = verify_legacy_layer(sign_image_legacy(signing_key, DIGEST, REFERENCE), DIGEST,
                                 key_policy)
    assert result.ok and result.signer and result.signer.key_fingerprint == \
        PublicKey(signing_key.public_key()).fingerprint
    assert result.signature_kind == "cosign-simplesigning"
    assert result.manifest_digest == DIGEST


def test_signature_wrong_key(key_policy: Policy) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    expect_fail("signature", sign_image_legacy(other, DIGEST, REFERENCE), key_policy)


def test_payload_digest_names_another_image(signing_key: ec.EllipticCurvePrivateKey,
                                            key_policy: Policy) -> None:
    expect_fail("payload-digest", sign_image_legacy(signing_key, OTHER_DIGEST, REFERENCE),
                key_policy)


def test_signature_payload_bytes_changed(signing_key: ec.EllipticCurvePrivateKey,
                                         key_policy: Policy) -> None:
    layer = sign_image_legacy(signing_key, DIGEST, REFERENCE)
    changed = layer.payload.replace(b"rocm/dev", b"rocm/evil")
    expect_fail("signature", replace(layer, payload=changed), key_policy)


def test_signature_not_base64(signing_key: ec.EllipticCurvePrivateKey,
                              key_policy: Policy) -> None:
    layer = sign_image_legacy(signing_key, DIGEST, REFERENCE)
    expect_fail("signature", with_ann(layer, signature="not*base64!"), key_policy)


def test_signature_of_another_payload(signing_key: ec.EllipticCurvePrivateKey,
                                      key_policy: Policy) -> None:
    layer = sign_image_legacy(signing_key, DIGEST, REFERENCE)
    other = sign_image_legacy(signing_key, DIGEST, "elsewhere/image")
    expect_fail("signature", with_ann(layer, signature=other.annotations[ANN_SIGNATURE]),
                key_policy)


@pytest.mark.parametrize("size", [0, 4, 4096])
def test_signature_oversized_or_truncated(signing_key: ec.EllipticCurvePrivateKey,
                                          key_policy: Policy, size: int) -> None:
    layer = sign_image_legacy(signing_key, DIGEST, REFERENCE)
    raw = base64.b64decode(layer.annotations[ANN_SIGNATURE])
    mangled = (raw * 64)[:size] if size else b""
    with pytest.raises(TrustError) as info:
        verify_legacy_layer(with_ann(layer, signature=base64.b64encode(mangled).decode()),
                            DIGEST, key_policy)
    assert info.value.check == "signature"


def test_signature_empty_layer_list(key_policy: Policy) -> None:
    with pytest.raises(TrustError) as info:
        verify_legacy_layers([], DIGEST, key_policy)
    assert info.value.check == "signature" and for_error(info.value) == ExitCode.UNSIGNED


def test_payload_oversized(signing_key: ec.EllipticCurvePrivateKey, key_policy: Policy) -> None:
    layer = sign_image_legacy(signing_key, DIGEST, REFERENCE)
    expect_fail("payload", replace(layer, payload=b" " * (2 << 20)), key_policy)


def test_any_good_layer_suffices(signing_key: ec.EllipticCurvePrivateKey,
                                 key_policy: Policy) -> None:
    bad = sign_image_legacy(ec.generate_private_key(ec.SECP256R1()), DIGEST, REFERENCE)
    good = sign_image_legacy(signing_key, DIGEST, REFERENCE)
    result = verify_legacy_layers([bad, bad, good], DIGEST, key_policy)
    assert result.ok and result.layer_index == 2


def test_tlog_required_with_key(signing_key: ec.EllipticCurvePrivateKey,
                                key_policy: Policy) -> None:
    strict = replace(key_policy, require_tlog=True)
    expect_fail("tlog", sign_image_legacy(signing_key, DIGEST, REFERENCE), strict)


def test_key_mode_with_set(signing_key: ec.EllipticCurvePrivateKey, key_policy: Policy,
                           pki: TestSigstore) -> None:
    layer = sign_image_legacy(signing_key, DIGEST, REFERENCE)
    sig = base64.b64decode(layer.annotations[ANN_SIGNATURE])
    bundle = pki.rekor_bundle(hashedrekord(sig, layer.payload,
                                           PublicKey(signing_key.public_key()).pem))
    result = verify_legacy_layer(with_ann(layer, bundle=bundle), DIGEST,
                                 replace(key_policy, require_tlog=True))
    assert result.ok and result.time_source == "set" and result.log_index is not None


# --- keyless mode -----------------------------------------------------------------------

@pytest.mark.parametrize("issuer_oid", ["v1", "v2", "both"])
def test_keyless_verifies(pki: TestSigstore, keyless_policy: Policy, issuer_oid: str) -> None:
    result = verify_legacy_layer(keyless(pki, issuer_oid=issuer_oid), DIGEST, keyless_policy)
    assert result.ok and result.signer is not None
    assert (result.signer.identity, result.signer.issuer) == (IDENTITY, ISSUER)
    assert result.time_source == "set" and result.log_id == pki.rekor.log_id.hex()


def test_keyless_regexp_and_email(pki: TestSigstore) -> None:
    policy = Policy.with_root(pki.trusted_root(), identities=(
        Identity(subject_regexp=r"^dev@rocm\.test$", issuer_regexp=r"^https://accounts\."),))
    layer = keyless_sign_image(pki, DIGEST, REFERENCE, identity="dev@rocm.test",
                               issuer="https://accounts.google.com", email=True)
    assert verify_legacy_layer(layer, DIGEST, policy).ok


def test_cert_validity_expired_at_integrated_time(pki: TestSigstore,
                                                  keyless_policy: Policy) -> None:
    old = datetime.now(UTC) - timedelta(hours=2)
    expect_fail("cert-validity", keyless(pki, issued_at=old), keyless_policy)


def test_chain_untrusted_ca(pki: TestSigstore, keyless_policy: Policy) -> None:
    stranger = TestSigstore(ctlog=pki.ctlog, rekor=pki.rekor)  # same logs, foreign CA
    expect_fail("chain", keyless(stranger), keyless_policy)


def test_san_wrong_identity(pki: TestSigstore) -> None:
    policy = Policy.with_root(pki.trusted_root(), identities=(
        Identity(subject=IDENTITY + "x", issuer=ISSUER),))
    expect_fail("san", keyless(pki), policy, code=ExitCode.IDENTITY_MISMATCH)


def test_san_regexp_is_unanchored_like_cosign(pki: TestSigstore) -> None:
    policy = Policy.with_root(pki.trusted_root(), identities=(
        Identity(subject_regexp=r"github\.com/ROCm/", issuer=ISSUER),))
    assert verify_legacy_layer(keyless(pki), DIGEST, policy).ok


def test_issuer_wrong(pki: TestSigstore) -> None:
    policy = Policy.with_root(pki.trusted_root(), identities=(
        Identity(subject=IDENTITY, issuer="https://accounts.google.com"),))
    expect_fail("issuer", keyless(pki), policy, code=ExitCode.IDENTITY_MISMATCH)


def test_sct_from_unknown_log(pki: TestSigstore, keyless_policy: Policy) -> None:
    expect_fail("sct", keyless(pki, ctlog=Log()), keyless_policy)


def test_eku_missing_code_signing(pki: TestSigstore, keyless_policy: Policy) -> None:
    expect_fail("eku", keyless(pki, code_signing=False), keyless_policy)


def test_set_over_other_bytes(pki: TestSigstore, keyless_policy: Policy) -> None:
    layer = keyless(pki)
    doc = json.loads(layer.annotations[ANN_BUNDLE])
    doc["Payload"]["integratedTime"] -= 1
    expect_fail("set", with_ann(layer, bundle=json.dumps(doc)), keyless_policy)


def test_log_id_of_unknown_log(pki: TestSigstore, keyless_policy: Policy) -> None:
    layer = keyless(pki)
    doc = json.loads(layer.annotations[ANN_BUNDLE])
    doc["Payload"]["logID"] = "00" * 32
    expect_fail("log-id", with_ann(layer, bundle=json.dumps(doc)), keyless_policy)


def test_tlog_body_names_other_signature(pki: TestSigstore, keyless_policy: Policy) -> None:
    layer = keyless(pki)
    other = keyless(pki)
    expect_fail("tlog-body", with_ann(layer, bundle=other.annotations[ANN_BUNDLE]),
                keyless_policy)


def test_tlog_keyless_needs_bundle(pki: TestSigstore, keyless_policy: Policy) -> None:
    layer = keyless(pki)
    annotations = {k: v for k, v in layer.annotations.items() if k != ANN_BUNDLE}
    expect_fail("tlog", replace(layer, annotations=annotations), keyless_policy)


def test_payload_digest_keyless(pki: TestSigstore, keyless_policy: Policy) -> None:
    payload = simplesigning_payload(OTHER_DIGEST, REFERENCE)
    expect_fail("payload-digest", keyless(pki, payload=payload), keyless_policy)


def test_payload_keys_case_insensitive(signing_key: ec.EllipticCurvePrivateKey,
                                       key_policy: Policy) -> None:
    payload = json.dumps({"Critical": {"Image": {"Docker-Manifest-Digest": DIGEST},
                                       "Type": "cosign container image signature"}}).encode()
    from clamp.trust.keys import sign_bytes

    layer = LegacyLayer(payload=payload, annotations={
        ANN_SIGNATURE: base64.b64encode(sign_bytes(signing_key, payload)).decode()})
    assert verify_legacy_layer(layer, DIGEST, key_policy).ok
