"""Produce what `cosign sign --key` produces, for the image glue to push.

Legacy: the simplesigning payload for `image@digest`, its base64 signature annotation, one layer.
New format: a sigstore bundle v0.3 holding a DSSE in-toto statement whose subject is the image
digest, predicateType `https://sigstore.dev/cosign/sign/v1` (public-key verification material;
no transparency-log entry, since signing here never contacts a log).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from clamp.trust.cosign_legacy import LegacyLayer
from clamp.trust.errors import TrustInputError
from clamp.trust.keys import PrivateKeyTypes, public_of, sign_bytes
from clamp.trust.mediatypes import (
    ANN_SIGNATURE,
    BUNDLE_V03_MEDIA_TYPE,
    COSIGN_SIGN_PREDICATE,
    INTOTO_PAYLOAD_TYPE,
    SIMPLESIGNING_MEDIA_TYPE,
    SIMPLESIGNING_PAYLOAD_TYPE,
    STATEMENT_V1,
)
from clamp.trust.rekor_body import Envelope


def _check_digest(manifest_digest: str) -> str:
    algo, _, hexdigest = manifest_digest.partition(":")
    if algo != "sha256" or len(hexdigest) != 64 or any(
            c not in "0123456789abcdef" for c in hexdigest):
        raise TrustInputError("digest", f"not a sha256:<64 lowercase hex> digest: "
                              f"{manifest_digest!r}")
    return hexdigest


def simplesigning_payload(manifest_digest: str, docker_reference: str,
                          optional: dict[str, Any] | None = None) -> bytes:
    """The exact bytes cosign signs (compact JSON, cosign's key order)."""
    _check_digest(manifest_digest)
    doc = {"critical": {"identity": {"docker-reference": docker_reference},
                        "image": {"docker-manifest-digest": manifest_digest},
                        "type": SIMPLESIGNING_PAYLOAD_TYPE},
           "optional": optional}
    return json.dumps(doc, separators=(",", ":")).encode()


def sign_image_legacy(private_key: PrivateKeyTypes, manifest_digest: str,
                      docker_reference: str) -> LegacyLayer:
    """A `.sig` layer (payload, media type, signature annotation) as `cosign sign --key`."""
    payload = simplesigning_payload(manifest_digest, docker_reference)
    signature = sign_bytes(private_key, payload)
    return LegacyLayer(payload=payload, media_type=SIMPLESIGNING_MEDIA_TYPE,
                       annotations={ANN_SIGNATURE: base64.b64encode(signature).decode()})


def image_statement(manifest_digest: str, name: str, *,
                    predicate_type: str = COSIGN_SIGN_PREDICATE,
                    predicate: dict[str, object] | None = None) -> bytes:
    hexdigest = _check_digest(manifest_digest)
    return json.dumps({
        "_type": STATEMENT_V1,
        "subject": [{"name": name, "digest": {"sha256": hexdigest}}],
        "predicateType": predicate_type,
        "predicate": predicate or {},
    }, separators=(",", ":")).encode()


def sign_image_bundle(private_key: PrivateKeyTypes, manifest_digest: str, name: str, *,
                      predicate_type: str = COSIGN_SIGN_PREDICATE,
                      predicate: dict[str, object] | None = None) -> bytes:
    """A v0.3 bundle (DSSE statement, subject = image digest) signed with a key: cosign's
    signature by default, an attestation with another `predicate_type`."""
    payload = image_statement(manifest_digest, name, predicate_type=predicate_type,
                              predicate=predicate)
    envelope = Envelope(INTOTO_PAYLOAD_TYPE, payload, ())
    signature = sign_bytes(private_key, envelope.pae())
    hint = base64.b64encode(hashlib.sha256(public_of(private_key).der).digest()).decode()
    return json.dumps({
        "mediaType": BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
        },
    }, separators=(",", ":")).encode()


@dataclass(frozen=True)
class ImageSignatures:
    legacy: LegacyLayer
    bundle: bytes


def sign_image(private_key: PrivateKeyTypes, manifest_digest: str, docker_reference: str
               ) -> ImageSignatures:
    """Both forms at once, for `clamp sign --image [--bundle-format]`."""
    return ImageSignatures(sign_image_legacy(private_key, manifest_digest, docker_reference),
                           sign_image_bundle(private_key, manifest_digest, docker_reference))
