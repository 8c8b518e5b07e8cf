"""DSSE envelopes and in-toto statements: parsing with bounds, signature and subject checks."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from clamp.trust.bundle_fields import check_bundle_fields
from clamp.trust.encoding import b64decode, go_get, loads_json
from clamp.trust.errors import InvalidSignatureError
from clamp.trust.keys import PublicKey
from clamp.trust.mediatypes import INTOTO_PAYLOAD_TYPE, STATEMENT_TYPES
from clamp.trust.rekor_body import Envelope

MAX_ENVELOPE = 8 * 1024 * 1024
MAX_SIGNATURES = 8
MAX_SUBJECTS = 1024
# `re.ASCII` and `fullmatch`: `\d`/`$` would take Unicode digits and a trailing newline.
SHA256_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)
SHA256_DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)


def parse_envelope(doc: Any, *, check: str = "dsse") -> Envelope:
    """A DSSE envelope from its JSON object form (payload and sigs are base64)."""
    if not isinstance(doc, dict):
        raise InvalidSignatureError(check, "DSSE envelope is not an object")
    payload_type = doc.get("payloadType")
    payload = doc.get("payload")
    sigs = doc.get("signatures")
    if not isinstance(payload_type, str) or not isinstance(payload, str):
        raise InvalidSignatureError(check, "DSSE envelope lacks payloadType/payload")
    if not isinstance(sigs, list) or not 1 <= len(sigs) <= MAX_SIGNATURES:
        raise InvalidSignatureError(check, "DSSE envelope needs 1..8 signatures")
    decoded = []
    keyids = []
    for sig in sigs:
        value = sig.get("sig") if isinstance(sig, dict) else None
        if not isinstance(value, str):
            raise InvalidSignatureError(check, "DSSE signature lacks 'sig'")
        keyid = sig.get("keyid", "")
        if not isinstance(keyid, str):
            raise InvalidSignatureError(check, "DSSE signature keyid is not a string")
        decoded.append(b64decode(value, check=check, limit=16 * 1024))
        keyids.append(keyid)
    return Envelope(payload_type, b64decode(payload, check=check, limit=MAX_ENVELOPE),
                    tuple(decoded), tuple(keyids))


def parse_envelope_bytes(raw: bytes, *, check: str = "dsse") -> Envelope:
    return parse_envelope(loads_json(raw, check=check, limit=MAX_ENVELOPE), check=check)


def verify_envelope(envelope: Envelope, key: PublicKey, *, keyids: bool = False) -> None:
    """At least one envelope signature verifies over the PAE with `key` (with any hash the
    key's type allows: `PublicKey.verify_any`).

    `keyids` (a bundle's envelope): a signature naming a `keyid` counts only for the key that
    id names. sigstore-go verifies DSSE with go-securesystemslib and a verifier that knows its
    key, which skips a signature whose non-empty keyid is not the key's OpenSSH SHA256
    fingerprint (`SHA256:…`). cosign's legacy `.att` check gives go-securesystemslib no key,
    so there any keyid passes (and so it does here). cosign, GitHub's attest actions and
    sigstore's clients write an empty keyid."""
    pae = envelope.pae()
    last: InvalidSignatureError | None = None
    named = envelope.keyids if keyids and envelope.keyids else ("",) * len(envelope.signatures)
    for sig, keyid in zip(envelope.signatures, named, strict=True):
        if keyid and keyid != key.ssh_key_id:
            last = InvalidSignatureError("dsse", f"DSSE signature keyid {keyid[:80]!r} is not "
                                         f"the key's ({key.ssh_key_id})")
            continue
        try:
            key.verify_any(sig, pae, check="dsse")
            return
        except InvalidSignatureError as exc:
            last = exc
    raise last or InvalidSignatureError("dsse", "no signature")


@dataclass(frozen=True)
class Statement:
    predicate_type: str
    subject_digests: tuple[str, ...]  # "sha256:<hex>" for each subject with a sha256 digest
    predicate: Any
    #: Each subject's digests of the algorithms clamp can compute (sha256/sha384/sha512).
    subjects: tuple[dict[str, str], ...] = ()


#: The subject digest algorithms sigstore-go computes, with their hex lengths.
_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX = re.compile(r"[0-9a-f]+", re.ASCII)
#: What Go's hex.DecodeString takes: pairs of hex digits of either case.
_GO_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*", re.ASCII)


def parse_statement(envelope: Envelope, *, protojson: bool = False) -> Statement:
    """The in-toto statement of an envelope, read by `loads_json` (no key two Go readers could
    read differently). A subject's `sha256` (and `sha384`/`sha512`) must be exactly lowercase
    hex of its length: cosign and sigstore-go compare spellings, and a statement naming a digest
    two ways is refused whole. Any other algorithm's value must be hex Go's decoder reads:
    sigstore-go refuses the whole statement otherwise (verifyEnvelopeWithArtifactDigests).
    `protojson`: a bundle's statement, which sigstore-go reads with protojson, so a field the
    in-toto v1 schema does not name is refused (legacy `.att` payloads are read by Go's json)."""
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE:
        raise InvalidSignatureError("statement", f"payload type {envelope.payload_type!r} is "
                                    "not an in-toto statement")
    doc = loads_json(envelope.payload, check="statement", limit=MAX_ENVELOPE)
    if protojson:
        check_bundle_fields(doc, "statement", "statement")
    if not isinstance(doc, dict) or go_get(doc, "_type") not in STATEMENT_TYPES:
        raise InvalidSignatureError("statement", "not an in-toto Statement v0.1/v1")
    predicate_type = go_get(doc, "predicateType")
    subjects = go_get(doc, "subject")
    if not isinstance(predicate_type, str) or not isinstance(subjects, list):
        raise InvalidSignatureError("statement", "statement lacks predicateType or subject")
    if len(subjects) > MAX_SUBJECTS:
        raise InvalidSignatureError("statement", f"more than {MAX_SUBJECTS} subjects")
    digests = []
    known: list[dict[str, str]] = []
    for subject in subjects:
        digest_set = go_get(subject, "digest")
        if not isinstance(subject, dict) or not isinstance(digest_set, dict):
            raise InvalidSignatureError("subject", "a statement subject has no digest object")
        # A DigestSet is a map: its keys are algorithm names, matched exactly (not as fields).
        mine: dict[str, str] = {}
        for algorithm, value in digest_set.items():
            length = _HEX_LENGTHS.get(algorithm)
            if length is not None:
                if not isinstance(value, str) or len(value) != length or \
                        _LOWER_HEX.fullmatch(value) is None:
                    raise InvalidSignatureError(
                        "subject", f"a subject's {algorithm} is not {length} lowercase hex: "
                        f"{str(value)[:80]!r}")
                mine[algorithm] = value
            elif not isinstance(value, str) or _GO_HEX.fullmatch(value) is None:
                raise InvalidSignatureError("subject", f"a subject's {str(algorithm)[:40]!r} "
                                            f"digest is not hex: {str(value)[:80]!r}")
        if "sha256" in mine:
            digests.append(f"sha256:{mine['sha256']}")
        known.append(mine)
    return Statement(predicate_type, tuple(digests), go_get(doc, "predicate"), tuple(known))


def require_subject(statement: Statement, digest: str) -> None:
    """The statement must name `digest` (exactly "sha256:<64 lowercase hex>") among its
    subjects, compared byte for byte."""
    if SHA256_DIGEST.fullmatch(digest) is None:
        raise InvalidSignatureError("subject", f"not a canonical sha256 digest: {digest[:80]!r}")
    if digest not in statement.subject_digests:
        raise InvalidSignatureError("subject", f"statement subject does not name {digest}")


def require_subject_bytes(statement: Statement, data: bytes) -> None:
    """The statement names the artifact `data`: some subject whose every sha256/sha384/sha512
    digest is the artifact's. sigstore-go, given the bytes, hashes each subject with its
    strongest algorithm (sha512 before sha384 before sha256), so a subject naming the artifact
    by sha256 beside another artifact's sha512 names another artifact there; clamp took its
    sha256 alone (red team 11)."""
    wanted: dict[str, str] = {}
    for subject in statement.subjects:
        if not subject:
            continue
        for algorithm in subject:
            if algorithm not in wanted:
                wanted[algorithm] = hashlib.new(algorithm, data).hexdigest()
        if all(wanted[algorithm] == value for algorithm, value in subject.items()):
            return
    raise InvalidSignatureError("subject", "no statement subject names the artifact "
                                f"(sha256:{hashlib.sha256(data).hexdigest()}) by every digest "
                                "it gives")
