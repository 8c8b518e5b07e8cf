"""Legacy `.att` layers: DSSE in-toto statements, subject check, predicate types recorded."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.trust.cosign_legacy import LegacyLayer, verify_legacy_layer
from clamp.trust.errors import TrustError
from clamp.trust.keys import sign_bytes
from clamp.trust.mediatypes import DSSE_MEDIA_TYPE, INTOTO_PAYLOAD_TYPE
from clamp.trust.policy import Policy
from clamp.trust.rekor_body import Envelope

from .conftest import DIGEST, OTHER_DIGEST

SLSA = "https://slsa.dev/provenance/v1"


def attestation(key: ec.EllipticCurvePrivateKey, digest: str) -> LegacyLayer:
    statement = json.dumps({"_type": "https://in-toto.io/Statement/v1",
                            "subject": [{"name": "img", "digest": {"sha256": digest[7:]}}],
                            "predicateType": SLSA, "predicate": {}}).encode()
    sig = sign_bytes(key, Envelope(INTOTO_PAYLOAD_TYPE, statement, ()).pae())
    envelope = {"payloadType": INTOTO_PAYLOAD_TYPE,
                "payload": base64.b64encode(statement).decode(),
                "signatures": [{"keyid": "", "sig": base64.b64encode(sig).decode()}]}
    return LegacyLayer(payload=json.dumps(envelope).encode(), media_type=DSSE_MEDIA_TYPE)


def verify_attestation(layer: LegacyLayer, digest: str, policy: Policy,
                       **kwargs: Any) -> Any:
    """An `.att` layer is verified as an attestation (`clamp.trust.kinds`)."""
    return verify_legacy_layer(layer, digest, policy, role="attestation", **kwargs)


def test_attestation_verifies(signing_key: ec.EllipticCurvePrivateKey,
                              key_policy: Policy) -> None:
    result = verify_attestation(attestation(signing_key, DIGEST), DIGEST, key_policy,
                                predicate_types=(SLSA,))
    assert result.ok and result.predicate_types == [SLSA]
    assert result.signature_kind == "cosign-attestation"


def test_subject_other_image(signing_key: ec.EllipticCurvePrivateKey,
                             key_policy: Policy) -> None:
    with pytest.raises(TrustError) as info:
        verify_attestation(attestation(signing_key, OTHER_DIGEST), DIGEST, key_policy)
    assert info.value.check == "subject"


def test_predicate_type_filtered(signing_key: ec.EllipticCurvePrivateKey,
                                 key_policy: Policy) -> None:
    with pytest.raises(TrustError) as info:
        verify_attestation(attestation(signing_key, DIGEST), DIGEST, key_policy,
                           predicate_types=("https://spdx.dev/Document",))
    assert info.value.check == "predicate-type"


def test_dsse_wrong_key(key_policy: Policy) -> None:
    with pytest.raises(TrustError) as info:
        verify_attestation(attestation(ec.generate_private_key(ec.SECP256R1()), DIGEST),
                           DIGEST, key_policy)
    assert info.value.check == "dsse"
