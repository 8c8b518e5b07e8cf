"""Red team 14: statements and envelopes as other signers write them, in a key-signed v0.3
bundle for an image (real keys; held: each already verified or refused as sigstore-go and the
in-toto spec say). Recorded so a later change keeps both sides."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.trust.bundle import Artifact, verify_bundle
from clamp.trust.errors import TrustError
from clamp.trust.keys import PublicKey, sign_bytes
from clamp.trust.mediatypes import BUNDLE_V03_MEDIA_TYPE, INTOTO_PAYLOAD_TYPE
from clamp.trust.policy import Policy
from clamp.trust.rekor_body import Envelope

HEX = "ab" * 32
DIGEST = f"sha256:{HEX}"
SUBJECT = {"name": "registry.test/rocm/dev", "digest": {"sha256": HEX}}
TRUSTED = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _statement(statement_type: str = "https://in-toto.io/Statement/v1",
               subjects: list[dict[str, Any]] | None = None) -> bytes:
    return json.dumps({"_type": statement_type, "subject": subjects or [SUBJECT],
                       "predicateType": "https://slsa.dev/provenance/v1",
                       "predicate": {}}).encode()


def _bundle(statement: bytes, signers: tuple[ec.EllipticCurvePrivateKey, ...] = (TRUSTED,),
            payload_type: str = INTOTO_PAYLOAD_TYPE) -> bytes:
    pae = Envelope(payload_type, statement, ()).pae()
    return json.dumps({"mediaType": BUNDLE_V03_MEDIA_TYPE, "verificationMaterial": {
        "publicKey": {"hint": ""}, "tlogEntries": []}, "dsseEnvelope": {
            "payload": _b64(statement), "payloadType": payload_type,
            "signatures": [{"sig": _b64(sign_bytes(k, pae))} for k in signers]}}).encode()


def _verify(raw: bytes) -> None:
    policy = Policy(keys=(PublicKey(TRUSTED.public_key()),), require_tlog=False)
    assert verify_bundle(raw, Artifact.from_digest(DIGEST), policy, subject_digest=DIGEST).ok


REFUSED = {
    # sigstore-go (verifyEnvelope, ErrInvSigCount): a bundle's envelope holds one signature.
    "the trusted signature beside another": (_bundle(_statement(), (OTHER, TRUSTED)), "dsse"),
    "the trusted signature twice": (_bundle(_statement(), (TRUSTED, TRUSTED)), "dsse"),
    "a Statement/v0.2 type (none such)": (_bundle(_statement("https://in-toto.io/Statement/v0.2")),
                                          "statement"),
    "payloadType in another case": (_bundle(_statement(), payload_type=INTOTO_PAYLOAD_TYPE.upper()),
                                    "statement"),
    "payloadType application/json": (_bundle(_statement(), payload_type="application/json"),
                                     "statement"),
    # in-toto v1: "Each element MUST have digest set"; refused whole, not skipped.
    "a name-only subject beside the image's": (_bundle(_statement(subjects=[
        {"name": "other"}, SUBJECT])), "subject"),
    # A DigestSet's keys are algorithm names, matched exactly.
    "the image under SHA256": (_bundle(_statement(subjects=[
        {"name": "x", "digest": {"SHA256": HEX}}])), "subject"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_shapes_no_verifier_takes_are_refused(name: str) -> None:
    raw, check = REFUSED[name]
    with pytest.raises(TrustError) as caught:
        _verify(raw)
    assert caught.value.check == check, str(caught.value)


@pytest.mark.parametrize("statement", [
    _statement("https://in-toto.io/Statement/v0.1"),  # cosign < 2.0, older attest actions
    _statement(subjects=[{"name": "a.tar", "digest": {"sha512": "cd" * 64}}, SUBJECT]),
    _statement(subjects=[{"uri": "oci://registry.test/rocm/dev", "digest": {"sha256": HEX}}]),
], ids=["statement v0.1", "image second of two subjects", "subject by uri"])
def test_shapes_other_signers_write_pass(statement: bytes) -> None:
    _verify(_bundle(statement))
