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

from clamp.trust.certs import chain_authority, load_der_cert
from clamp.trust.dsse import parse_envelope, parse_statement, require_subject, verify_envelope
from clamp.trust.encoding import as_int, as_str, b64decode, loads_json
from clamp.trust.errors import InvalidSignatureError, TrustError, TrustInputError, UnsignedError
from clamp.trust.keyless import verify_certificate
from clamp.trust.keys import PublicKey
from clamp.trust.policy import Policy
from clamp.trust.rekor_body import Envelope, check_dsse_body, check_message_body, same_hash
from clamp.trust.result import Signer, TimeSource, VerificationResult
from clamp.trust.tlog import LogEntry, find_log, verify_checkpoint, verify_inclusion, verify_set
from clamp.trust.tsa import verify_timestamps

MEDIA_TYPES = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": 1,
    "application/vnd.dev.sigstore.bundle+json;version=0.2": 2,
    "application/vnd.dev.sigstore.bundle+json;version=0.3": 3,
    "application/vnd.dev.sigstore.bundle.v0.3+json": 3,
}
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


def _entry(obj: Any) -> tuple[LogEntry, Any]:
    if not isinstance(obj, dict):
        raise InvalidSignatureError(CHECK, "tlog entry is not an object")
    kv = obj.get("kindVersion") or {}
    promise = obj.get("inclusionPromise")
    set_bytes = None
    if promise is not None:
        set_bytes = b64decode(as_str((promise or {}).get("signedEntryTimestamp"), check="set",
                                     what="signedEntryTimestamp"), check="set")
    integrated = obj.get("integratedTime")
    entry = LogEntry(
        body=b64decode(as_str(obj.get("canonicalizedBody"), check=CHECK,
                              what="canonicalizedBody"), check=CHECK, limit=2 * 1024 * 1024),
        log_index=as_int(obj.get("logIndex"), check=CHECK, what="logIndex"),
        log_id=b64decode(as_str((obj.get("logId") or {}).get("keyId"), check=CHECK,
                                what="logId.keyId"), check=CHECK),
        integrated_time=(as_int(integrated, check=CHECK, what="integratedTime")
                         if integrated not in (None, "0", 0) else None),
        signed_entry_timestamp=set_bytes,
        kind=str(kv.get("kind")), version=str(kv.get("version")),
    )
    return entry, obj.get("inclusionProof")


def _verify_proof(entry: LogEntry, proof: Any, policy: Policy) -> None:
    log = find_log(policy.trusted_root, entry.log_id)
    if not isinstance(proof, dict):
        raise InvalidSignatureError("inclusion-proof", "inclusion proof is not an object")
    index = as_int(proof.get("logIndex"), check="inclusion-proof", what="logIndex")
    size = as_int(proof.get("treeSize"), check="inclusion-proof", what="treeSize")
    root_hash = b64decode(as_str(proof.get("rootHash"), check="inclusion-proof",
                                 what="rootHash"), check="inclusion-proof")
    hashes = proof.get("hashes") or []
    if not isinstance(hashes, list):
        raise InvalidSignatureError("inclusion-proof", "hashes is not a list")
    verify_inclusion(entry.body, index, size,
                     [b64decode(str(h), check="inclusion-proof") for h in hashes], root_hash)
    checkpoint = (proof.get("checkpoint") or {}).get("envelope")
    if not isinstance(checkpoint, str):
        raise InvalidSignatureError("checkpoint", "inclusion proof has no signed checkpoint")
    verify_checkpoint(checkpoint, log, size=size, root_hash=root_hash)


def _material(vm: dict[str, Any], version: int) -> tuple[x509.Certificate | None,
                                                          list[x509.Certificate]]:
    if "certificate" in vm:
        raw = (vm["certificate"] or {}).get("rawBytes")
        return load_der_cert(b64decode(as_str(raw, check="chain", what="certificate"),
                                       check="chain"), check="chain"), []
    if "x509CertificateChain" in vm:
        certs_json = (vm["x509CertificateChain"] or {}).get("certificates") or []
        if not isinstance(certs_json, list) or not certs_json or len(certs_json) > 8:
            raise InvalidSignatureError("chain", "certificate chain is empty")
        certs = [load_der_cert(b64decode(as_str((c or {}).get("rawBytes"), check="chain",
                                                what="certificate"), check="chain"),
                               check="chain") for c in certs_json]
        for cert in certs[1:]:
            if cert.issuer == cert.subject:
                raise InvalidSignatureError("chain", "bundle carries a root certificate; roots "
                                            "must come from the trusted root")
        return certs[0], certs[1:]
    if "publicKey" in vm:
        return None, []
    raise InvalidSignatureError(CHECK, "bundle has no verification material")


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
    doc = loads_json(raw, check=CHECK, limit=MAX_BUNDLE)
    if not isinstance(doc, dict):
        raise InvalidSignatureError(CHECK, "bundle is not a JSON object")
    media_type = doc.get("mediaType")
    version = MEDIA_TYPES.get(str(media_type))
    if version is None:
        raise InvalidSignatureError(CHECK, f"unsupported bundle mediaType {media_type!r}")
    vm = doc.get("verificationMaterial")
    if not isinstance(vm, dict):
        raise InvalidSignatureError(CHECK, "bundle lacks verificationMaterial")
    leaf, extra_chain = _material(vm, version)

    envelope: Envelope | None = None
    message_sig: bytes | None = None
    if "dsseEnvelope" in doc:
        envelope = parse_envelope(doc["dsseEnvelope"])
        if len(envelope.signatures) != 1:
            raise InvalidSignatureError("dsse", "bundle DSSE envelope needs exactly 1 signature")
        tsa_message = envelope.signatures[0]
    elif "messageSignature" in doc:
        ms = doc["messageSignature"] or {}
        message_sig = b64decode(as_str(ms.get("signature"), check="signature",
                                       what="signature"), check="signature", limit=16 * 1024)
        md = ms.get("messageDigest")
        # SHA2_256, or SHA2_384/SHA2_512 as P-384/P-521 signers write it (checkable when the
        # artifact's bytes are at hand).
        if md is not None and not same_hash(
                (md or {}).get("algorithm"),
                b64decode(as_str(md.get("digest"), check="message-digest", what="digest"),
                          check="message-digest"), artifact.digest, artifact.data):
            raise InvalidSignatureError("message-digest",
                                        "bundle message digest differs from the artifact's")
        tsa_message = message_sig
    else:
        raise UnsignedError(CHECK, "bundle has neither messageSignature nor dsseEnvelope")

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

    # Log evidence.
    entries = vm.get("tlogEntries") or []
    if not isinstance(entries, list) or len(entries) > 1:
        raise InvalidSignatureError(CHECK, "expected at most one tlog entry")
    times: list[datetime] = []
    time_source: TimeSource = "none"
    result_log: LogEntry | None = None
    if entries:
        entry, proof = _entry(entries[0])
        if entry.signed_entry_timestamp is None and proof is None:
            raise InvalidSignatureError("tlog", "entry has neither inclusion promise nor proof")
        if version == 1 and entry.signed_entry_timestamp is None:
            raise InvalidSignatureError("set", "v0.1 bundles need an inclusion promise")
        if version >= 2 and proof is None:
            raise InvalidSignatureError("inclusion-proof", "bundle v0.2+ needs an inclusion proof")
        if proof is not None:
            _verify_proof(entry, proof, policy)
            time_source = "inclusion_proof"
        if entry.signed_entry_timestamp is not None:
            times.append(verify_set(entry, policy.trusted_root, now=now))
            time_source = "set"
        result_log = entry
    elif policy.require_tlog:
        raise InvalidSignatureError("tlog", "no transparency log entry in the bundle")

    tsa_raw = []
    tvd = vm.get("timestampVerificationData") or {}
    for item in (tvd.get("rfc3161Timestamps") or [])[:33]:
        tsa_raw.append(b64decode(as_str((item or {}).get("signedTimestamp"), check="tsa",
                                        what="signedTimestamp"), check="tsa"))
    tsa_times = verify_timestamps(tsa_raw, tsa_message, policy.trusted_root)
    if tsa_times:
        times.extend(tsa_times)
        if time_source != "set":
            time_source = "tsa"
    if result_log is not None and result_log.integrated_time is None and not tsa_times \
            and leaf is not None:
        raise InvalidSignatureError("tsa", "Rekor v2 entries need a signed timestamp")

    # A certificate without a log entry is only trusted from an instance that runs no log
    # (GitHub's, for private repositories), and then only with a verified signed timestamp.
    if leaf is not None and result_log is None and (
            not tsa_times or chain_authority(leaf, policy.trusted_root, tsa_times[0],
                                             extra_chain)[1].instance_tlogs):
        raise InvalidSignatureError("tlog", "no transparency log entry in the bundle")

    signer: Signer
    if leaf is not None:
        if not times:
            raise InvalidSignatureError("tlog", "no verified signing time")
        signer = verify_certificate(leaf, times, policy, extra_chain)
        chosen = candidates[0]
    else:
        chosen, signer = _pick_key(candidates, envelope, message_sig, artifact)

    key, material = chosen
    if envelope is not None:
        verify_envelope(envelope, key)
    else:
        assert message_sig is not None
        _verify_message(key, message_sig, artifact)

    kind = None
    if result_log is not None:
        if envelope is not None:
            kind = check_dsse_body(result_log.body, envelope=envelope, signer=material)
        else:
            assert message_sig is not None
            kind = check_message_body(result_log.body, signature=message_sig,
                                      digest=artifact.digest, signer=material,
                                      data=artifact.data)

    found_types: list[str] = []
    if envelope is not None:
        statement = parse_statement(envelope)
        require_subject(statement, subject_digest or artifact.ref)
        found_types = [statement.predicate_type]
        if predicate_types and statement.predicate_type not in predicate_types:
            raise InvalidSignatureError("predicate-type", f"predicate type "
                                        f"{statement.predicate_type!r} is not accepted")
    del kind
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
                verify_envelope(envelope, key)
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
