"""Bundle shapes sigstore-go refuses before verifying anything (its `Bundle.validate` and
`SignatureContent`), held by clamp too (red team 11): a v0.3 bundle carrying an
`x509CertificateChain` instead of one `certificate`, and a message signature without its
`messageDigest` (or, red team 13, with one its log entry does not log). And the `.sig`
layer's Rekor bundle annotation as cosign's Go struct reads it (int64 fields, the logID string
looked up exactly). Each beside the honest shape that verifies.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.trust.bundle import Artifact, verify_bundle
from clamp.trust.errors import TrustError
from clamp.trust.keys import PublicKey, sign_bytes
from clamp.trust.pki import TestSigstore
from clamp.trust.policy import Policy

from .conftest import DIGEST
from .test_other_tools_formats import (
    BUNDLE_V02,
    BUNDLE_V03,
    SLSA,
    hashedrekord_with,
    keyless_attestation_bundle,
    rekor_v1_entry,
)


def _as_chain(raw: bytes) -> bytes:
    doc = json.loads(raw)
    material = doc["verificationMaterial"]
    material["x509CertificateChain"] = {"certificates": [material.pop("certificate")]}
    return json.dumps(doc).encode()


def test_a_v03_bundle_with_a_certificate_chain_is_refused(pki: TestSigstore,
                                                          keyless_policy: Policy) -> None:
    """sigstore-go: "verification material cannot be X.509 certificate chain (for bundle
    v0.3)"; clamp read the chain's first certificate (got through)."""
    raw = _as_chain(keyless_attestation_bundle(pki, DIGEST, BUNDLE_V03))
    with pytest.raises(TrustError) as info:
        verify_bundle(raw, Artifact.from_digest(DIGEST), keyless_policy, subject_digest=DIGEST,
                      predicate_types=(SLSA,))
    assert info.value.check == "chain" and "x509CertificateChain" in info.value.reason


@pytest.mark.parametrize("media_type", [BUNDLE_V03, BUNDLE_V02])
def test_each_version_with_its_own_certificate_shape_passes(media_type: str, pki: TestSigstore,
                                                            keyless_policy: Policy) -> None:
    """v0.3 with `certificate`; v0.2 (sigstore-js, attest-build-provenance v1.0.x) with a
    one-certificate `x509CertificateChain`."""
    raw = keyless_attestation_bundle(pki, DIGEST, media_type)
    result = verify_bundle(raw, Artifact.from_digest(DIGEST), keyless_policy,
                           subject_digest=DIGEST, predicate_types=(SLSA,))
    assert result.ok


def _message_bundle(key: ec.EllipticCurvePrivateKey, data: bytes, *, digest: bool) -> bytes:
    signature: dict[str, object] = {
        "signature": base64.b64encode(sign_bytes(key, data)).decode()}
    if digest:
        signature["messageDigest"] = {
            "algorithm": "SHA2_256",
            "digest": base64.b64encode(hashlib.sha256(data).digest()).decode()}
    return json.dumps({"mediaType": BUNDLE_V03,
                       "verificationMaterial": {"publicKey": {"hint": ""}, "tlogEntries": []},
                       "messageSignature": signature}).encode()


@pytest.mark.parametrize("digest", [False, True])
def test_a_message_signature_needs_its_digest_even_beside_the_bytes(
        digest: bool, pki: TestSigstore, signing_key: ec.EllipticCurvePrivateKey) -> None:
    """sigstore-go's `SignatureContent` refuses a message signature without messageDigest
    before looking at the artifact; its twin with the digest verifies."""
    policy = Policy.with_root(pki.trusted_root(), keys=(PublicKey(signing_key.public_key()),),
                              require_tlog=False)
    data = b"a release tarball\n"
    raw = _message_bundle(signing_key, data, digest=digest)
    if digest:
        assert verify_bundle(raw, Artifact.from_bytes(data), policy).ok
        return
    with pytest.raises(TrustError) as info:
        verify_bundle(raw, Artifact.from_bytes(data), policy)
    assert info.value.check == "message-digest"


# --- the `.sig` layer's Rekor bundle as cosign's Go struct reads it --------------------------

def _set_variant(bundle: str, variant: str) -> str:
    doc = json.loads(bundle)
    payload = doc["Payload"]
    if variant == "integratedTime as a string":
        payload["integratedTime"] = str(payload["integratedTime"])
    elif variant == "logIndex as a string":
        payload["logIndex"] = str(payload["logIndex"])
    elif variant == "logID in capitals":
        payload["logID"] = payload["logID"].upper()
    elif variant == "logID with spaces":
        payload["logID"] = " ".join(payload["logID"][i:i + 2]
                                    for i in range(0, len(payload["logID"]), 2))
    return json.dumps(doc)


@pytest.mark.parametrize("variant", ["integratedTime as a string", "logIndex as a string",
                                     "logID in capitals", "logID with spaces", "as signed"])
def test_a_rekor_bundle_annotation_is_read_as_cosigns_struct(
        variant: str, pki: TestSigstore, signing_key: ec.EllipticCurvePrivateKey) -> None:
    """cosign decodes the annotation into int64 fields (a JSON string there fails) and looks
    the log key up by the logID string exactly; clamp re-read the values and rebuilt the SET's
    payload from them, so these spellings verified (red team 11). The SET still signed the same
    values, so no entry was forged, but clamp took what cosign refuses."""
    from dataclasses import replace

    from clamp.trust.cosign_legacy import verify_legacy_layer
    from clamp.trust.mediatypes import ANN_BUNDLE, ANN_SIGNATURE
    from clamp.trust.pki import hashedrekord
    from clamp.trust.sign import sign_image_legacy

    from .conftest import REFERENCE

    layer = sign_image_legacy(signing_key, DIGEST, REFERENCE)
    sig = base64.b64decode(layer.annotations[ANN_SIGNATURE])
    bundle = pki.rekor_bundle(hashedrekord(sig, layer.payload,
                                           PublicKey(signing_key.public_key()).pem))
    crafted = replace(layer, annotations={**layer.annotations,
                                          ANN_BUNDLE: _set_variant(bundle, variant)})
    policy = Policy.with_root(pki.trusted_root(), keys=(PublicKey(signing_key.public_key()),))
    if variant == "as signed":
        assert verify_legacy_layer(crafted, DIGEST, policy).time_source == "set"
        return
    with pytest.raises(TrustError) as info:
        verify_legacy_layer(crafted, DIGEST, policy)
    assert info.value.check in ("set", "log-id")


def test_a_log_entry_without_its_kind_and_version_is_refused(pki: TestSigstore,
                                                             keyless_policy: Policy) -> None:
    """sigstore-go's ParseTransparencyLogEntry refuses an entry with no kindVersion; clamp read
    the body alone (red team 11). The twin with it is
    `test_each_version_with_its_own_certificate_shape_passes`."""
    doc = json.loads(keyless_attestation_bundle(pki, DIGEST, BUNDLE_V03))
    del doc["verificationMaterial"]["tlogEntries"][0]["kindVersion"]
    with pytest.raises(TrustError) as info:
        verify_bundle(json.dumps(doc).encode(), Artifact.from_digest(DIGEST), keyless_policy,
                      subject_digest=DIGEST, predicate_types=(SLSA,))
    assert "kindVersion" in info.value.reason


# --- a message digest the entry does not log (red team 13) -----------------------------------

def _logged_message_bundle(pki: TestSigstore, key: ec.EllipticCurvePrivateKey, data: bytes,
                           stated: str, logged: str) -> bytes:
    """A key's blob signature bundle whose messageDigest is `stated` (hashlib name) and whose
    Rekor v1 hashedrekord entry (SET and proof) logged the `logged` hash of the same bytes."""
    signature = key.sign(data, ec.ECDSA(hashes.SHA384()))
    body = hashedrekord_with(logged, signature, data, PublicKey(key.public_key()).pem)
    return json.dumps({"mediaType": BUNDLE_V03, "verificationMaterial": {
        "publicKey": {"hint": ""}, "tlogEntries": [rekor_v1_entry(pki, body)]},
        "messageSignature": {"signature": base64.b64encode(signature).decode(),
                             "messageDigest": {
                                 "algorithm": {"sha256": "SHA2_256", "sha384": "SHA2_384"}[stated],
                                 "digest": base64.b64encode(
                                     hashlib.new(stated, data).digest()).decode()}}}).encode()


@pytest.mark.parametrize(("stated", "logged"), [("sha384", "sha256"), ("sha256", "sha384"),
                                                ("sha384", "sha384"), ("sha256", "sha256")])
def test_a_message_digest_the_entry_does_not_log_is_refused(
        pki: TestSigstore, stated: str, logged: str) -> None:
    """sigstore-go compares a message signature's digest with its hashedrekord entry's,
    algorithm and bytes. Given the blob, clamp compared each with the blob alone, so a bundle
    stating the SHA-384 while its entry logged the SHA-256 (of the same bytes) verified: it says
    two things sigstore-go refuses to reconcile. A P-384 key, as cosign >= 2.4 signs with."""
    key = ec.generate_private_key(ec.SECP384R1())
    policy = Policy.with_root(pki.trusted_root(), keys=(PublicKey(key.public_key()),))
    data = b"a release tarball\n"
    raw = _logged_message_bundle(pki, key, data, stated, logged)
    if stated == logged:
        assert verify_bundle(raw, Artifact.from_bytes(data), policy).ok
        return
    with pytest.raises(TrustError) as info:
        verify_bundle(raw, Artifact.from_bytes(data), policy)
    assert info.value.check == "tlog-body", str(info.value)
