"""SLSA Verification Summary Attestations: one signed DSSE envelope per verified image.

`clamp verify --matrix M --vsa FILE --vsa-key KEY` writes one envelope per record, one per line
(JSON lines). Each holds an in-toto v1 Statement whose subject is the image's pinned digest and
whose predicate (https://slsa.dev/verification_summary/v1) says who verified (clamp and its
version), when (the provenance's `generatedAt`), what (`resourceUri`: the image reference), under
which policy (the matrix path and the digest of the record's policy, `evidence.policySha256`),
from what (`inputAttestations`: every signature object the registry returned, by the SHA-256 of
its bytes, as kept in the record's evidence) and with which result (`PASSED` when the entry's
decision was `pass`, else `FAILED`).

`verifiedLevels`: clamp checks signatures against a trust policy, not SLSA build provenance, so it
claims no `SLSA_BUILD_LEVEL_*`; a passing image gets the custom level `CLAMP_SIGNATURE_LEVEL_1`
(the SLSA spec allows verifier-defined levels), a failing one `FAILED`.

The envelope is signed over the DSSE PAE with the key `clamp sign` uses (ECDSA P-256 with SHA-256
for cosign keys); `keyid` is the hex SHA-256 of the public key's DER SubjectPublicKeyInfo.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from clamp import __version__
from clamp.location import resource_uri
from clamp.trust.dsse import parse_envelope, parse_statement, verify_envelope
from clamp.trust.encoding import loads_json
from clamp.trust.errors import InvalidSignatureError, TrustError
from clamp.trust.keys import PrivateKeyTypes, PublicKey, public_of, sign_bytes
from clamp.trust.mediatypes import INTOTO_PAYLOAD_TYPE, STATEMENT_V1, VSA_PREDICATE
from clamp.trust.rekor_body import Envelope
from clamp.verify.provenance import ProvenanceDocument, ProvenanceRecord

VERIFIER_ID = "https://github.com/ROCm/clamp"
PASSED_LEVEL = "CLAMP_SIGNATURE_LEVEL_1"
MAX_VSA_LINE = 1024 * 1024  # one envelope (the statement is a few KB)
MAX_VSA_LINES = 10_000
MAX_VSA_FILE = 64 * 1024 * 1024  # what `verify-vsa` reads at most


def _name(record: ProvenanceRecord) -> str:
    """The image name without tag or digest ("registry/repository")."""
    name, _, tag = record.tag.rpartition(":")
    return name if name and "/" not in tag else record.tag


def predicate(record: ProvenanceRecord, document: ProvenanceDocument) -> dict[str, Any]:
    passed = record.policyDecision == "pass"
    inputs: list[dict[str, Any]] = []
    evidence = record.evidence
    for subject in evidence.subjects if evidence else []:
        for item in subject.signatures:
            data = base64.b64decode(item.data)
            where = (f"{_name(record)}@{item.referrer}" if item.referrer else
                     f"{_name(record)}:{subject.digest.replace(':', '-')}."
                     f"{'sig' if item.kind == 'sig-layer' else 'att'}#{item.index}")
            inputs.append({"uri": resource_uri(where),
                           "digest": {"sha256": hashlib.sha256(data).hexdigest()}})
    return {
        "verifier": {"id": VERIFIER_ID, "version": {"clamp": __version__}},
        "timeVerified": document.generatedAt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resourceUri": resource_uri(record.image),
        "policy": {"uri": f"{document.matrix.path}#{record.entry}",
                   "digest": {"sha256": evidence.policySha256} if evidence else {}},
        "inputAttestations": inputs,
        "verificationResult": "PASSED" if passed else "FAILED",
        "verifiedLevels": [PASSED_LEVEL] if passed else ["FAILED"],
    }


def statement(record: ProvenanceRecord, document: ProvenanceDocument) -> bytes:
    assert record.digest is not None
    algorithm, _, hexdigest = record.digest.partition(":")
    return json.dumps({
        "_type": STATEMENT_V1,
        "subject": [{"name": _name(record), "digest": {algorithm: hexdigest}}],
        "predicateType": VSA_PREDICATE,
        "predicate": predicate(record, document),
    }, separators=(",", ":"), sort_keys=True).encode()


def sign_envelope(private_key: PrivateKeyTypes, payload: bytes) -> dict[str, Any]:
    signature = sign_bytes(private_key, Envelope(INTOTO_PAYLOAD_TYPE, payload, ()).pae())
    return {"payloadType": INTOTO_PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": public_of(private_key).fingerprint,
                            "sig": base64.b64encode(signature).decode()}]}


def vsa_lines(document: ProvenanceDocument, private_key: PrivateKeyTypes) -> str:
    """One signed envelope per record (images without a pin are not records), JSON lines."""
    return "".join(json.dumps(sign_envelope(private_key, statement(r, document)),
                              separators=(",", ":")) + "\n"
                   for r in document.records if r.digest is not None)


@dataclass(frozen=True)
class CheckedVsa:
    line: int
    subject: str  # "sha256:<hex>"
    result: str
    policy_digest: str | None
    resource: str
    #: `<matrix path>#<entry>`: which record it reports, where two entries pin one digest
    policy_uri: str | None = None


def check_vsa_lines(data: bytes, key: PublicKey) -> Iterator[CheckedVsa | TrustError]:
    """Verify each line: the DSSE signature with `key`, then the statement and its predicate.
    Yields the checked summary, or the error of that line (with `line N` in its reason)."""
    lines = data.splitlines()
    if len(lines) > MAX_VSA_LINES:
        raise InvalidSignatureError("vsa", f"more than {MAX_VSA_LINES} lines")
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            yield _check_one(raw, key, n)
        except TrustError as exc:
            yield type(exc)(exc.check, f"line {n}: {exc.reason}")


def _check_one(raw: bytes, key: PublicKey, n: int) -> CheckedVsa:
    envelope = parse_envelope(loads_json(raw, check="vsa", limit=MAX_VSA_LINE), check="vsa")
    verify_envelope(envelope, key)
    parsed = parse_statement(envelope)
    if parsed.predicate_type != VSA_PREDICATE:
        raise InvalidSignatureError("vsa", f"predicate type {parsed.predicate_type!r} is not "
                                    f"{VSA_PREDICATE}")
    if len(parsed.subject_digests) != 1:
        raise InvalidSignatureError("vsa", "a VSA names exactly one image digest")
    body = parsed.predicate if isinstance(parsed.predicate, dict) else {}
    result = body.get("verificationResult")
    if result not in ("PASSED", "FAILED"):
        raise InvalidSignatureError("vsa", f"verificationResult {result!r}")
    policy = body.get("policy")
    digests = policy.get("digest") if isinstance(policy, dict) else None
    digest = digests.get("sha256") if isinstance(digests, dict) else None
    resource = body.get("resourceUri")
    uri = policy.get("uri") if isinstance(policy, dict) else None
    return CheckedVsa(n, parsed.subject_digests[0], str(result),
                      digest if isinstance(digest, str) else None,
                      resource if isinstance(resource, str) else "",
                      uri if isinstance(uri, str) else None)
