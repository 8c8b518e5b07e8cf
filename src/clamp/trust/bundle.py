"""Sigstore bundles v0.1–v0.3 (message signature or DSSE), verified offline, keyless or with a
public key.

One code path for both modes (sigstore-python has no public-key mode, and through the
conformance suite it wrongly rejects intoto/0.0.2 entries and TSA timestamps at the exact end of
a TSA's validity): parse → log evidence (SET, inclusion proof + checkpoint, entry body
consistency) → verified times (SET-bound integratedTime, TSA) → signer (certificate checks and
identity policy, or a policy key) → the signature over the artifact / DSSE PAE.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from clamp.trust.bundle_fields import check_bundle_fields
from clamp.trust.bundle_log import MAX_ENTRIES, verify_entries
from clamp.trust.certs import chain_authority, load_der_cert, require_logged_within
from clamp.trust.dsse import (
    parse_envelope,
    parse_statement,
    require_subject,
    require_subject_bytes,
    verify_envelope,
)
from clamp.trust.encoding import (
    as_dict,
    as_str,
    b64decode,
    loads_json,
    opt_dict,
    opt_list,
)
from clamp.trust.errors import InvalidSignatureError, TrustError, TrustInputError
from clamp.trust.errors import MalformedError as M
from clamp.trust.keyless import verify_certificate
from clamp.trust.keys import PublicKey
from clamp.trust.mediatypes import BUNDLE_MEDIA_TYPES
from clamp.trust.policy import Policy
from clamp.trust.rekor_body import Envelope, check_dsse_body, check_message_body, same_hash
from clamp.trust.result import Signer, VerificationResult
from clamp.trust.tsa import verified_timestamps

MAX_BUNDLE = 16 * 1024 * 1024
CHECK = "bundle"


@dataclass(frozen=True)
class Artifact:
    """What the bundle signs: the bytes, or only their sha256 (`digest` is raw 32 bytes)."""

    digest: bytes
    data: bytes | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> Artifact:
        return cls(hashlib.sha256(data).digest(), data)

    @classmethod
    def from_digest(cls, digest: str) -> Artifact:
        algo, _, hexdigest = digest.partition(":")
        if algo != "sha256" or len(hexdigest) != 64:
            raise TrustInputError("artifact", f"expected sha256:<64 hex>, got {digest!r}")
        try:
            return cls(bytes.fromhex(hexdigest))
        except ValueError as exc:
            raise TrustInputError("artifact", "digest is not hex") from exc

    @property
    def ref(self) -> str:
        return "sha256:" + self.digest.hex()


def _raw_cert(obj: Any, what: str) -> x509.Certificate:
    raw = as_dict(obj, check="chain", what=what, error=M).get("rawBytes")
    der = b64decode(as_str(raw, check="chain", what=f"{what}.rawBytes", error=M), check="chain",
                    error=M)
    try:
        return load_der_cert(der, check="chain")
    except InvalidSignatureError as exc:
        raise M("chain", exc.reason) from None


def _material(vm: dict[str, Any], version: int) -> tuple[x509.Certificate | None,
                                                          list[x509.Certificate]]:
    kinds = [k for k in ("certificate", "x509CertificateChain", "publicKey") if k in vm]
    if len(kinds) > 1:
        raise M(CHECK, f"verification material holds both {kinds[0]} and {kinds[1]}")
    if "certificate" in vm:
        return _raw_cert(vm["certificate"], "certificate"), []
    if "x509CertificateChain" in vm:
        if version >= 3:  # sigstore-go: "cannot be X.509 certificate chain (for bundle v0.3)"
            raise M("chain", "a v0.3 bundle carries one certificate, not x509CertificateChain")
        chain = as_dict(vm["x509CertificateChain"], check="chain", what="x509CertificateChain",
                        error=M)
        certs_json = opt_list(chain.get("certificates"), check="chain",
                              what="x509CertificateChain.certificates", limit=8, error=M)
        if not certs_json:
            raise M("chain", "certificate chain is empty")
        certs = [_raw_cert(c, f"certificates[{i}]") for i, c in enumerate(certs_json)]
        for cert in certs[1:]:
            if cert.issuer == cert.subject:
                raise InvalidSignatureError("chain", "bundle carries a root certificate; roots "
                                            "must come from the trusted root")
        return certs[0], certs[1:]
    if "publicKey" in vm:
        hint = as_dict(vm["publicKey"], check=CHECK, what="publicKey", error=M).get("hint")
        if hint is not None:
            as_str(hint, check=CHECK, what="publicKey.hint", error=M)
        return None, []
    raise M(CHECK, "bundle has no verification material")


@dataclass(frozen=True)
class ParsedBundle:
    """A bundle's parts, shape-checked (every object an object, every list a list)."""

    media_type: str
    version: int
    leaf: x509.Certificate | None
    extra_chain: list[x509.Certificate]
    envelope: Envelope | None
    message_sig: bytes | None
    message_digest: tuple[Any, bytes] | None  # (algorithm, digest) as the bundle states them
    entries: list[Any]
    timestamps: list[bytes]


def parse_bundle(raw: bytes) -> ParsedBundle:
    """Parse a bundle or raise `MalformedError`: nothing here is verified yet."""
    doc = as_dict(loads_json(raw, check=CHECK, limit=MAX_BUNDLE, error=M), check=CHECK,
                  what="bundle", error=M)
    check_bundle_fields(doc)
    media_type = doc.get("mediaType")
    version = BUNDLE_MEDIA_TYPES.get(media_type) if isinstance(media_type, str) else None
    if version is None or not isinstance(media_type, str):
        raise M(CHECK, f"unsupported bundle mediaType {str(media_type)[:80]!r}")
    vm = as_dict(doc.get("verificationMaterial"), check=CHECK, what="verificationMaterial",
                 error=M)
    leaf, extra_chain = _material(vm, version)
    envelope: Envelope | None = None
    message_sig: bytes | None = None
    message_digest: tuple[Any, bytes] | None = None
    if "dsseEnvelope" in doc and "messageSignature" in doc:
        raise M(CHECK, "bundle holds both a messageSignature and a dsseEnvelope")
    if "dsseEnvelope" in doc:
        try:
            envelope = parse_envelope(doc["dsseEnvelope"])
        except InvalidSignatureError as exc:
            raise M(exc.check, exc.reason) from None
    elif "messageSignature" in doc:
        ms = as_dict(doc["messageSignature"], check="signature", what="messageSignature",
                     error=M)
        message_sig = b64decode(as_str(ms.get("signature"), check="signature",
                                       what="signature", error=M), check="signature",
                                limit=16 * 1024, error=M)
        md = ms.get("messageDigest")
        if md is not None:
            md = as_dict(md, check="message-digest", what="messageDigest", error=M)
            message_digest = (md.get("algorithm"), b64decode(
                as_str(md.get("digest"), check="message-digest", what="digest", error=M),
                check="message-digest", error=M))
    else:
        raise M(CHECK, "bundle has neither messageSignature nor dsseEnvelope")
    entries = opt_list(vm.get("tlogEntries"), check=CHECK, what="tlogEntries",
                       limit=MAX_ENTRIES, error=M)
    tvd = opt_dict(vm.get("timestampVerificationData"), check="tsa",
                   what="timestampVerificationData", error=M)
    stamps = opt_list(tvd.get("rfc3161Timestamps"), check="tsa", what="rfc3161Timestamps",
                      limit=32, error=M)
    timestamps = [b64decode(as_str(as_dict(item, check="tsa", what="rfc3161Timestamps[]",
                                           error=M).get("signedTimestamp"), check="tsa",
                                   what="signedTimestamp", error=M), check="tsa", error=M)
                  for item in stamps]
    return ParsedBundle(media_type, version, leaf, extra_chain, envelope, message_sig,
                        message_digest, entries, timestamps)


def _verify_message(key: PublicKey, signature: bytes, artifact: Artifact) -> None:
    """Over the artifact's bytes with any hash the key allows; over a bare digest, only the
    SHA-256 one we have."""
    if artifact.data is not None:
        key.verify_any(signature, artifact.data)
    else:
        key.verify(signature, artifact.digest, hash_name="sha256", prehashed=True)


def verify_bundle(raw: bytes, artifact: Artifact, policy: Policy, *,
                  subject_digest: str | None = None,
                  predicate_types: tuple[str, ...] = (),
                  now: datetime | None = None) -> VerificationResult:
    """Verify a bundle over `artifact` (for DSSE: `artifact` must be a statement subject).

    `subject_digest` overrides which digest a DSSE statement must name (image verification
    passes the manifest digest); `predicate_types`, when given, restricts accepted predicates.
    """
    parsed = parse_bundle(raw)
    media_type, version = parsed.media_type, parsed.version
    leaf = parsed.leaf
    envelope, message_sig = parsed.envelope, parsed.message_sig
    if envelope is not None:
        if len(envelope.signatures) != 1:
            raise InvalidSignatureError("dsse", "bundle DSSE envelope needs exactly 1 signature")
        tsa_message = envelope.signatures[0]
    else:
        assert message_sig is not None
        # SHA2_256, or SHA2_384/SHA2_512 as P-384/P-521 signers write it (checkable when the
        # artifact's bytes are at hand). sigstore-go refuses a message signature without a
        # messageDigest (bundle.SignatureContent), and compares it with an image's digest.
        if parsed.message_digest is None:
            raise InvalidSignatureError("message-digest", "bundle message signature has no "
                                        "messageDigest")
        if not same_hash(
                parsed.message_digest[0], parsed.message_digest[1], artifact.digest,
                artifact.data):
            raise InvalidSignatureError("message-digest",
                                        "bundle message digest differs from the artifact's")
        tsa_message = message_sig

    # Signer material, as the log body must name it.
    candidates: list[tuple[PublicKey, bytes | PublicKey]] = []
    if leaf is not None:
        if not policy.identities:
            raise _mode_mismatch("bundle is signed with a certificate but the policy "
                                           "names no certificate identity")
        candidates = [(PublicKey(leaf.public_key()),  # type: ignore[arg-type]
                       leaf.public_bytes(serialization.Encoding.DER))]
    else:
        if not policy.keys:
            raise _mode_mismatch("bundle is signed with a public key but the policy "
                                           "names no key (use --key)")
        candidates = [(k, k) for k in policy.keys]

    # Log evidence: every entry of a log the trusted root lists (bundle_log).
    logs, times, time_source = verify_entries(parsed.entries, version, policy.trusted_root,
                                              now=now)
    result_log = logs[0] if logs else None
    if not logs and policy.require_tlog:
        raise InvalidSignatureError("tlog", "no transparency log entry in the bundle")

    tsa_times, skipped = verified_timestamps(parsed.timestamps, tsa_message,
                                             policy.trusted_root)
    unverified = f" (signed timestamp skipped: {'; '.join(skipped)[:300]})" if skipped else ""
    if tsa_times:
        times.extend(tsa_times)
        if time_source != "set":
            time_source = "tsa"
    if logs and all(log.integrated_time is None for log in logs) and not tsa_times \
            and leaf is not None:
        raise InvalidSignatureError("tsa", "Rekor v2 entries need a signed timestamp"
                                    + unverified)

    # A certificate without a log entry is only trusted from an instance that runs no log
    # (GitHub's, for private repositories), and then only with a verified signed timestamp.
    if leaf is not None and result_log is None and (
            not tsa_times or chain_authority(leaf, policy.trusted_root,
                                             tsa_times[0])[1].instance_tlogs):
        raise InvalidSignatureError("tlog", "no transparency log entry in the bundle"
                                    + unverified)

    signer: Signer
    if leaf is not None:
        for log in logs:
            if log.integrated_time is not None:
                require_logged_within(leaf, log.integrated_time)
        if not times:
            raise InvalidSignatureError("tlog", "no verified signing time" + unverified)
        signer = verify_certificate(leaf, times, policy)
        chosen = candidates[0]
    else:
        chosen, signer = _pick_key(candidates, envelope, message_sig, artifact)

    key, material = chosen
    if envelope is not None:
        verify_envelope(envelope, key, keyids=True)
    else:
        assert message_sig is not None
        _verify_message(key, message_sig, artifact)

    for log in logs:  # each must log this very signature and signer
        if envelope is not None:
            kind = check_dsse_body(log.body, envelope=envelope, signer=material)
        else:
            assert message_sig is not None
            kind = check_message_body(log.body, signature=message_sig,
                                      digest=artifact.digest, signer=material,
                                      data=artifact.data, stated=parsed.message_digest)
        if kind != f"{log.kind}/{log.version}":  # ParseTransparencyLogEntry
            raise InvalidSignatureError("tlog-body", f"the entry's kindVersion "
                                        f"{log.kind}/{log.version}"[:120]
                                        + f" is not its body's {kind}")

    found_types: list[str] = []
    if envelope is not None:
        statement = parse_statement(envelope, protojson=True)
        if subject_digest is None and artifact.data is not None:
            require_subject_bytes(statement, artifact.data)  # as sigstore-go, given the bytes
        else:
            require_subject(statement, subject_digest or artifact.ref)
        found_types = [statement.predicate_type]
        if predicate_types and statement.predicate_type not in predicate_types:
            raise InvalidSignatureError("predicate-type", f"predicate type "
                                        f"{statement.predicate_type!r} is not accepted")
    return VerificationResult(
        verdict="verified", signer=signer,
        integrated_time=min(times) if times else None,
        time_source=time_source,
        log_index=result_log.log_index if result_log else None,
        log_id=result_log.log_id.hex() if result_log else None,
        signature_kind="bundle-dsse" if envelope is not None else "bundle-message-signature",
        media_type=str(media_type), artifact_digest=artifact.ref,
        manifest_digest=subject_digest, predicate_types=found_types)


def _pick_key(candidates: list[tuple[PublicKey, bytes | PublicKey]], envelope: Envelope | None,
              message_sig: bytes | None, artifact: Artifact
              ) -> tuple[tuple[PublicKey, bytes | PublicKey], Signer]:
    last: InvalidSignatureError | None = None
    for key, material in candidates:
        try:
            if envelope is not None:
                verify_envelope(envelope, key, keyids=True)
            else:
                assert message_sig is not None
                _verify_message(key, message_sig, artifact)
        except InvalidSignatureError as exc:
            last = exc
            continue
        return (key, material), Signer(key_fingerprint=key.fingerprint)
    raise last or InvalidSignatureError("signature", "no key")


def _mode_mismatch(reason: str) -> TrustError:
    """The bundle's kind of signer (key vs certificate) is not one the policy can trust."""
    from clamp.trust.errors import IdentityMismatchError

    return IdentityMismatchError("verification-material", reason)
