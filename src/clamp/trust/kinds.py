"""The one place that decides what a piece of signature material *is*: a signature of the image
or an attestation about it.

cosign keeps the two apart by where they live (`.sig` holds simple-signing payloads signed over
their bytes, `.att` holds DSSE in-toto envelopes) and, for sigstore bundles, by the statement's
predicate (`https://sigstore.dev/cosign/sign/v1` is a signature, any other predicate an
attestation). A verifier that took "signed by the trusted key" for "a signature" would let a
vulnerability-scan attestation, copied under `.sig`, approve the image it condemns, and a copy of
a `.sig` layer under `.att` satisfy "attestation required". So a layer is judged by its media
type AND the shape of its payload, both read by the same strict JSON reader the verification
uses, and a layer of the wrong kind for the place it was found never verifies there.
"""

from __future__ import annotations

import binascii
from typing import Literal

from clamp.trust.dsse import parse_envelope_bytes, parse_statement
from clamp.trust.encoding import b64decode, go_get, loads_json
from clamp.trust.errors import InvalidSignatureError, TrustError
from clamp.trust.mediatypes import (
    COSIGN_SIGN_PREDICATE,
    DSSE_MEDIA_TYPE,
    SIMPLESIGNING_MEDIA_TYPE,
)
from clamp.trust.mediatypes import SIMPLESIGNING_PAYLOAD_TYPE as PAYLOAD_TYPE

MAX_PAYLOAD = 1024 * 1024

Kind = Literal["signature", "attestation"]


def parse_simplesigning(payload: bytes) -> tuple[str, str | None]:
    """(docker-manifest-digest, docker-reference) from a payload; fields matched like Go's json
    (after `loads_json` refused every payload two spellings of one field could mislead).

    cosign unmarshals the payload into sigstore's `SimpleContainerImage` and refuses it when
    any field has the wrong JSON type (`optional` a string, `critical.identity` a list,
    `docker-reference` a number: Go's json reports the mismatch after filling the rest), so
    such a payload is refused here too, even though only the digest is compared."""
    doc = loads_json(payload, check="payload", limit=MAX_PAYLOAD)
    critical = go_get(doc, "critical")
    if not isinstance(critical, dict):
        raise InvalidSignatureError("payload", "payload has no 'critical' object")
    identity = go_get(critical, "identity")
    for value, what, kind in ((go_get(doc, "optional"), "optional", dict),
                              (identity, "critical.identity", dict),
                              (go_get(critical, "image"), "critical.image", dict),
                              (go_get(identity, "docker-reference"),
                               "critical.identity.docker-reference", str)):
        if value is not None and not isinstance(value, kind):
            raise InvalidSignatureError("payload", f"payload {what} is not a JSON "
                                        f"{'object' if kind is dict else 'string'} (cosign "
                                        "refuses the payload)")
    kind = go_get(critical, "type")
    if kind != PAYLOAD_TYPE:
        raise InvalidSignatureError("payload", f"payload type {str(kind)[:80]!r} is not "
                                    f"{PAYLOAD_TYPE!r}")
    digest = go_get(go_get(critical, "image"), "docker-manifest-digest")
    if not isinstance(digest, str):
        raise InvalidSignatureError("payload", "payload lacks critical.image."
                                    "docker-manifest-digest")
    reference = go_get(identity, "docker-reference")
    return digest, reference if isinstance(reference, str) else None


def layer_kind(media_type: str, payload: bytes) -> tuple[Kind | None, str | None]:
    """(kind, predicate type) of a `.sig`/`.att` layer, from its media type and payload shape.

    A simple-signing media type with a simple-signing payload is a signature; a DSSE media type
    with an in-toto envelope is an attestation (whatever its predicate: cosign never reads a DSSE
    layer as an image signature). Anything else is (None, None): unreadable, and verification
    says why.
    """
    if media_type == SIMPLESIGNING_MEDIA_TYPE:
        try:
            parse_simplesigning(payload)
        except TrustError:
            return None, None
        return "signature", None
    if media_type == DSSE_MEDIA_TYPE:
        try:
            statement = parse_statement(parse_envelope_bytes(payload))
        except TrustError:
            return None, None
        return "attestation", statement.predicate_type
    return None, None


def bundle_kind(raw: bytes) -> tuple[Kind, str | None]:
    """(kind, predicate type) of a sigstore bundle, read without verifying anything: it only
    sorts bundles before each is verified in full. A DSSE bundle is a signature when its
    statement's predicate is cosign's sign predicate, else an attestation; a message-signature
    bundle, or one that does not parse, is a signature candidate (verification then reports what
    is wrong with it)."""
    try:
        doc = loads_json(raw, check="bundle", limit=16 * 1024 * 1024)
        # protojson (bundles) matches field names exactly, as `verify_bundle` does.
        envelope = doc.get("dsseEnvelope") if isinstance(doc, dict) else None
        if not isinstance(envelope, dict):
            return "signature", None
        payload = b64decode(envelope.get("payload", ""), check="bundle")
        statement = loads_json(payload, check="statement")
        predicate = go_get(statement, "predicateType")
    except (TrustError, binascii.Error, ValueError):
        return "signature", None
    if not isinstance(predicate, str):
        return "signature", None
    return ("signature" if predicate == COSIGN_SIGN_PREDICATE else "attestation"), predicate


def accepts_attestation(predicate: str | None, wanted: tuple[str, ...]) -> bool:
    """Does an attestation with `predicate` satisfy a policy asking for `wanted` (any but cosign's
    sign predicate when nothing is named)?"""
    if predicate is None:
        return False
    return predicate in wanted if wanted else predicate != COSIGN_SIGN_PREDICATE


__all__ = ["Kind", "accepts_attestation", "bundle_kind", "layer_kind", "parse_simplesigning"]
