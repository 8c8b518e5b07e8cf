"""Legacy cosign signatures: one `.sig` simplesigning layer (or `.att` DSSE layer) at a time.

The caller (image glue) has fetched the layer blob and checked it against the layer digest; we
get the blob bytes, the layer annotations and the image manifest digest we are verifying. Order
of checks: signature → log evidence (SET, body consistency) → certificate (keyless) → payload
names the image digest. Any failure raises a `TrustError` naming the check.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives import serialization

from clamp.digest import is_digest
from clamp.trust.dsse import (
    parse_envelope_bytes,
    parse_statement,
    require_subject,
    verify_envelope,
)
from clamp.trust.encoding import as_int, as_str, b64decode, go_get, loads_json
from clamp.trust.errors import InvalidSignatureError, TrustError, UnsignedError
from clamp.trust.keys import PublicKey
from clamp.trust.kinds import (
    MAX_PAYLOAD,
    Kind,
    accepts_attestation,
    layer_kind,
    parse_simplesigning,
)
from clamp.trust.mediatypes import (
    ANN_BUNDLE,
    ANN_CERTIFICATE,
    ANN_CHAIN,
    ANN_SIGNATURE,
    ANN_TIMESTAMP,
    DSSE_MEDIA_TYPE,
    SIMPLESIGNING_MEDIA_TYPE,
)
from clamp.trust.mediatypes import MAX_SIGNATURE_LAYERS as MAX_LAYERS
from clamp.trust.policy import Policy
from clamp.trust.rekor_body import Envelope, check_dsse_body, check_message_body
from clamp.trust.result import Signer, TimeSource, VerificationResult
from clamp.trust.tlog import LogEntry, verify_set
from clamp.trust.tsa import verify_timestamps

_DESCRIBE = {"signature": "a simple-signing signature", "attestation": "a DSSE attestation"}


@dataclass(frozen=True)
class LegacyLayer:
    """One signature layer: blob bytes (already digest-checked), media type, annotations."""

    payload: bytes
    annotations: Mapping[str, str] = field(default_factory=dict)
    media_type: str = SIMPLESIGNING_MEDIA_TYPE


def require_payload_digest(named: str, manifest_digest: str) -> None:
    """The payload's `docker-manifest-digest` is the image digest, byte for byte, as cosign
    compares it: `SHA256:`, uppercase hex, whitespace or another algorithm never match."""
    if not is_digest(manifest_digest):  # the digest grammar: sha256/sha512, matched whole
        raise InvalidSignatureError("payload-digest", "not a canonical image digest: "
                                    f"{manifest_digest[:80]!r}")
    if named != manifest_digest:
        raise InvalidSignatureError("payload-digest", f"payload names {named[:100]!r}, not the "
                                    f"verified image {manifest_digest}")


def _rekor_bundle(text: str) -> LogEntry:
    """cosign's `LayerBundle` as Go's encoding/json fills it: `integratedTime` and `logIndex`
    are int64 fields (a JSON string there is a decoding error, unlike protojson's), and the
    `logID` is the hex string cosign looks the Rekor key up by, exactly (lowercase)."""
    doc = loads_json(text, check="set", limit=2 * 1024 * 1024)
    payload = go_get(doc, "Payload")
    body_b64 = as_str(go_get(payload, "body"), check="set", what="Payload.body")
    return LogEntry(
        body=b64decode(body_b64, check="set"),
        body_b64=body_b64,
        integrated_time=_go_int(go_get(payload, "integratedTime"), "integratedTime"),
        log_index=_go_int(go_get(payload, "logIndex"), "logIndex"),
        log_id=_hex(as_str(go_get(payload, "logID"), check="log-id", what="logID")),
        signed_entry_timestamp=b64decode(
            as_str(go_get(doc, "SignedEntryTimestamp"), check="set",
                   what="SignedEntryTimestamp"), check="set"),
    )


def _go_int(value: object, what: str) -> int:
    if isinstance(value, str):
        raise InvalidSignatureError("set", f"{what} is a string, not a JSON integer")
    return as_int(value, check="set", what=what)


def _hex(text: str) -> bytes:
    if re.fullmatch(r"[0-9a-f]{64}", text, re.ASCII) is None:
        raise InvalidSignatureError("log-id", f"logID {text[:80]!r} is not 64 lowercase hex")
    return bytes.fromhex(text)


def verify_legacy_layer(layer: LegacyLayer, manifest_digest: str, policy: Policy, *,
                        role: Kind = "signature", predicate_types: tuple[str, ...] = (),
                        now: datetime | None = None) -> VerificationResult:
    """Verify one layer as a `.sig` signature (`role="signature"`: simple signing only) or an
    `.att` attestation (`role="attestation"`: DSSE only, its predicate one of `predicate_types`,
    any but cosign's sign predicate when none is named) for the image `manifest_digest`."""
    ann = layer.annotations
    if len(layer.payload) > MAX_PAYLOAD:
        raise InvalidSignatureError("payload", f"payload larger than {MAX_PAYLOAD} bytes")
    kind, predicate = layer_kind(layer.media_type, layer.payload)
    if kind is not None and kind != role:
        raise UnsignedError("layer-kind", f"{_DESCRIBE[kind]}"
                            + (f" (predicate {predicate[:100]!r})" if predicate else "")
                            + f" stored as {'an' if role == 'attestation' else 'a'} {role} is "
                            f"not {_DESCRIBE[role]}")
    wanted_type = DSSE_MEDIA_TYPE if role == "attestation" else SIMPLESIGNING_MEDIA_TYPE
    if layer.media_type != wanted_type:
        raise UnsignedError("media-type", f"layer media type {layer.media_type[:100]!r} is not "
                            f"{_DESCRIBE[role]} ({wanted_type})")
    is_att = role == "attestation"
    envelope: Envelope | None = parse_envelope_bytes(layer.payload) if is_att else None
    signature = b""
    if envelope is None:
        sig_text = ann.get(ANN_SIGNATURE)
        if not sig_text:
            raise UnsignedError("signature", f"layer has no {ANN_SIGNATURE} annotation")
        signature = b64decode(sig_text, check="signature", limit=16 * 1024)
        if not 8 <= len(signature) <= 2048:
            raise InvalidSignatureError("signature", "signature length is implausible")

    # Who signs: a certificate (keyless) or one of the policy keys.
    cert_pem = ann.get(ANN_CERTIFICATE)
    leaf = None
    if cert_pem and policy.identities:
        # The X.509 stack (~15-35 ms to import) only for a keyless policy reading a certificate.
        from clamp.trust.certs import load_pem_certs

        leaf = load_pem_certs(cert_pem.encode(), check="chain", limit=1)[0]
        if ann.get(ANN_CHAIN):
            # Read as cosign reads it (`sig.Chain()`: a chain it cannot read refuses the
            # signature), never trusted: with a trusted root cosign verifies the leaf against
            # the root's CA chains only (VerifyLeafCertificate), and so does clamp.
            load_pem_certs(ann[ANN_CHAIN].encode(), check="chain", limit=8)
        candidates = [PublicKey(leaf.public_key())]  # type: ignore[arg-type]
    elif policy.keys:
        candidates = list(policy.keys)
    elif cert_pem:
        raise InvalidSignatureError("verification-material", "keyless signature but the policy "
                                    "names no certificate identity")
    else:
        raise InvalidSignatureError("verification-material", "key-signed layer but the policy "
                                    "names no key")

    key = _verify_signature(candidates, signature, layer.payload, envelope)
    material: bytes | PublicKey = (leaf.public_bytes(serialization.Encoding.DER)
                                   if leaf is not None else key)

    times: list[datetime] = []
    time_source: TimeSource = "none"
    entry = None
    if ann.get(ANN_BUNDLE):
        entry = _rekor_bundle(ann[ANN_BUNDLE])
        times.append(verify_set(entry, policy.trusted_root, now=now))
        time_source = "set"
        if envelope is not None:
            check_dsse_body(entry.body, envelope=envelope, signer=material)
        else:
            check_message_body(entry.body, signature=signature,
                               digest=hashlib.sha256(layer.payload).digest(), signer=material,
                               data=layer.payload)
    elif policy.require_tlog or leaf is not None:
        raise InvalidSignatureError("tlog", "no Rekor bundle (SET) on the signature layer")
    if ann.get(ANN_TIMESTAMP):
        doc = loads_json(ann[ANN_TIMESTAMP], check="tsa", limit=64 * 1024)
        raw = b64decode(as_str(go_get(doc, "SignedRFC3161Timestamp"), check="tsa",
                               what="SignedRFC3161Timestamp"), check="tsa")
        # cosign timestamps what it signed: the signature of a simple-signing layer, but the
        # whole DSSE envelope (the layer's bytes) of an attestation (cosign verify.go,
        # VerifyRFC3161Timestamp).
        signed = layer.payload if envelope is not None else signature
        tsa_times = verify_timestamps([raw], signed, policy.trusted_root)
        times.extend(tsa_times)
        time_source = time_source if time_source != "none" else "tsa"

    if leaf is not None:
        from clamp.trust.keyless import verify_certificate

        signer = verify_certificate(leaf, times, policy)
    else:
        signer = Signer(key_fingerprint=key.fingerprint)

    predicates: list[str] = []
    if envelope is not None:
        statement = parse_statement(envelope)
        require_subject(statement, manifest_digest)
        predicates = [statement.predicate_type]
        if not accepts_attestation(statement.predicate_type, predicate_types):
            raise InvalidSignatureError("predicate-type", f"predicate type "
                                        f"{statement.predicate_type[:100]!r} is not accepted"
                                        + (f" (want {', '.join(predicate_types)})"
                                           if predicate_types else ""))
    else:
        named, _ = parse_simplesigning(layer.payload)
        require_payload_digest(named, manifest_digest)
    return VerificationResult(
        verdict="verified", signer=signer, integrated_time=min(times) if times else None,
        time_source=time_source, log_index=entry.log_index if entry else None,
        log_id=entry.log_id.hex() if entry else None,
        signature_kind="cosign-attestation" if envelope is not None else "cosign-simplesigning",
        media_type=layer.media_type, manifest_digest=manifest_digest,
        predicate_types=predicates)


def _verify_signature(candidates: Sequence[PublicKey], signature: bytes, payload: bytes,
                      envelope: Envelope | None) -> PublicKey:
    last: InvalidSignatureError | None = None
    for key in candidates:
        try:
            if envelope is not None:
                verify_envelope(envelope, key)
            else:
                key.verify_any(signature, payload)
            return key
        except InvalidSignatureError as exc:
            last = exc
    raise last or InvalidSignatureError("signature", "no key to verify with")


def verify_legacy_layers(layers: Sequence[LegacyLayer], manifest_digest: str, policy: Policy,
                         *, role: Kind = "signature", predicate_types: tuple[str, ...] = (),
                         now: datetime | None = None) -> VerificationResult:
    """Any one good layer suffices; the result's `layer_index` says which.

    When none verifies, the most telling failure is raised: an identity mismatch over an
    invalid signature over "unsigned", so the user hears about the closest miss.
    """
    if not layers:
        raise UnsignedError("signature", "the signature manifest has no layers")
    if len(layers) > MAX_LAYERS:
        raise InvalidSignatureError("signature", f"more than {MAX_LAYERS} signature layers "
                                    "(cosign's bound)")
    errors: list[TrustError] = []
    for index, layer in enumerate(layers):
        try:
            result = verify_legacy_layer(layer, manifest_digest, policy, role=role,
                                         predicate_types=predicate_types, now=now)
        except TrustError as exc:
            errors.append(exc)
            continue
        return result.model_copy(update={"layer_index": index})
    rank = {"identity_mismatch": 0, "invalid": 1, "error": 2, "unsigned": 3}
    best = min(enumerate(errors), key=lambda pair: (rank.get(pair[1].verdict, 9), pair[0]))
    index, worst = best
    raise type(worst)(worst.check, f"layer {index}: {worst.reason}"
                      + (f" (and {len(errors) - 1} other layer(s) failed)" if len(errors) > 1
                         else ""))


__all__ = ["LegacyLayer", "parse_simplesigning", "require_payload_digest", "verify_legacy_layer",
           "verify_legacy_layers"]
