"""Transparency-log evidence, verified offline: the Rekor SET (inclusion promise), RFC 6962
inclusion proofs (their signed checkpoints: `clamp.trust.checkpoint`), and the consistency of
the logged entry body with the signature being verified (so a valid entry for *another*
signature proves nothing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clamp.trust.encoding import canonical_json
from clamp.trust.errors import InvalidSignatureError
from clamp.trust.keys import PublicKey
from clamp.trust.root import LogInstance, TrustedRoot

MAX_BODY = 1024 * 1024
MAX_PROOF_HASHES = 64
CLOCK_SKEW_SECONDS = 0  # an integratedTime later than "now" is refused outright


@dataclass(frozen=True)
class LogEntry:
    """The parts of a Rekor entry every format carries (legacy bundle or sigstore bundle)."""

    body: bytes  # decoded canonicalized body
    log_index: int
    log_id: bytes
    integrated_time: int | None
    signed_entry_timestamp: bytes | None
    kind: str | None = None
    version: str | None = None
    body_b64: str | None = None  # the body exactly as the log served it (the SET covers this)


def find_log(root: TrustedRoot, log_id: bytes) -> LogInstance:
    log = root.tlog(log_id)
    if log is None:
        raise InvalidSignatureError(
            "log-id", f"log {log_id.hex()} is not a transparency log of the trusted root")
    return log


def verify_with_log(log: LogInstance, signature: bytes, data: bytes, check: str) -> None:
    """`signature` over `data` by the log's key, with the hash its key details name."""
    if log.key_details.startswith("PKIX_ED25519"):
        log.key.verify(signature, data, check=check)
    else:
        hash_name = "sha384" if "SHA_384" in log.key_details else (
            "sha512" if "SHA_512" in log.key_details else "sha256")
        log.key.verify(signature, data, hash_name=hash_name, check=check,
                       rsa_pss="RSA_PSS" in log.key_details)


def integrated_at(integrated_time: int) -> datetime:
    """A log entry's integratedTime as a UTC time. It is read before anything signed vouches
    for it, so any int64 an attacker writes gets here: past year 9999 it is no date Python can
    hold, and is refused as the time it claims to be rather than crashing the run."""
    try:
        return datetime.fromtimestamp(integrated_time, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidSignatureError("integrated-time", f"integratedTime {integrated_time} is "
                                    "no representable time (past year 9999)") from None


def verify_set(entry: LogEntry, root: TrustedRoot, *, now: datetime | None = None) -> datetime:
    """Verify the inclusion promise; return the integrated time it binds."""
    if entry.signed_entry_timestamp is None or entry.integrated_time is None:
        raise InvalidSignatureError("set", "entry has no signed entry timestamp")
    log = find_log(root, entry.log_id)
    when = integrated_at(entry.integrated_time)
    if when > (now or datetime.now(UTC)):
        raise InvalidSignatureError("integrated-time",
                                    f"integratedTime {when:%Y-%m-%dT%H:%M:%SZ} is in the future")
    if not log.validity.contains(when):
        raise InvalidSignatureError("set", "integratedTime is outside the log key's validity")
    import base64

    payload = {
        "body": entry.body_b64 or base64.b64encode(entry.body).decode(),
        "integratedTime": entry.integrated_time,
        "logIndex": entry.log_index,
        "logID": entry.log_id.hex(),
    }
    verify_with_log(log, entry.signed_entry_timestamp, canonical_json(payload), "set")
    return when


def _hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf_data: bytes, index: int, size: int, proof: list[bytes],
                     root_hash: bytes) -> None:
    """RFC 9162 §2.1.3.2 inclusion proof of the leaf `leaf_data` at `index` in a tree of `size`."""
    if not 0 <= index < size or len(proof) > MAX_PROOF_HASHES:
        raise InvalidSignatureError("inclusion-proof", "index outside the tree")
    if any(len(h) != 32 for h in proof) or len(root_hash) != 32:
        raise InvalidSignatureError("inclusion-proof", "proof hashes must be 32 bytes")
    fn, sn = index, size - 1
    result = hashlib.sha256(b"\x00" + leaf_data).digest()
    for node in proof:
        if sn == 0:
            raise InvalidSignatureError("inclusion-proof", "proof is longer than the path")
        if fn & 1 or fn == sn:
            result = _hash_children(node, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = _hash_children(result, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidSignatureError("inclusion-proof", "proof is shorter than the path")
    if result != root_hash:
        raise InvalidSignatureError("inclusion-proof", "computed root hash does not match")


def check_entry_time_in_log_validity(log: LogInstance, when: datetime) -> None:
    if not log.validity.contains(when):
        raise InvalidSignatureError("log-id", "signing time is outside the log key's validity")


def same_key(material_pem_or_der: bytes, expected: PublicKey | bytes) -> bool:
    """Does logged verifier material (PEM/DER cert or key) name the expected cert DER / key?"""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    raw = material_pem_or_der
    if isinstance(expected, bytes):  # a certificate's DER
        try:
            cert = (x509.load_pem_x509_certificate(raw) if raw.lstrip().startswith(b"-----")
                    else x509.load_der_x509_certificate(raw))
        except ValueError:
            return False
        return cert.public_bytes(serialization.Encoding.DER) == expected
    key: Any
    try:
        if b"CERTIFICATE" in raw[:64]:
            key = x509.load_pem_x509_certificate(raw).public_key()
        elif raw.lstrip().startswith(b"-----"):
            key = serialization.load_pem_public_key(raw)
        else:
            key = serialization.load_der_public_key(raw)
    except ValueError:
        return False
    return expected.equals(key)
