"""The fields a sigstore bundle may hold, as sigstore-go's protojson reader knows them.

sigstore-go reads a bundle with `protojson.Unmarshal` and its default options, which refuse a
field the protobuf schema does not name, and take a field's proto name (`dsse_envelope`,
`tlog_entries`) for its JSON name. clamp reads JSON names only, so a field it did not know
was silently skipped: a bundle sigstore-go refuses verified, and a proto-name spelling
(`x509_certificate_chain` beside `publicKey`: two members of one oneof for protojson, one
for clamp) was read one way here and refused there. Every object of a bundle is therefore
checked against the schema before anything is read from it; anything else is refused. So is
the in-toto statement a DSSE bundle carries, where `dsse.parse_statement` reads it: sigstore-go
reads it with protojson too (its `predicate` is a `Struct`, free-form; the statement and its
subjects are not).
"""

from __future__ import annotations

from typing import Any

from clamp.trust.errors import MalformedError

#: Per object kind: its fields (JSON names, as the bundle schema writes them) and, for those
#: holding an object or a list of objects, that object's kind.
_SCHEMA: dict[str, dict[str, str | None]] = {
    "bundle": {"mediaType": None, "verificationMaterial": "material",
               "dsseEnvelope": "envelope", "messageSignature": "message"},
    "material": {"publicKey": "key", "x509CertificateChain": "chain", "certificate": "cert",
                 "tlogEntries": "entry", "timestampVerificationData": "timestamps"},
    "key": {"hint": None},
    "chain": {"certificates": "cert"},
    "cert": {"rawBytes": None},
    "timestamps": {"rfc3161Timestamps": "stamp"},
    "stamp": {"signedTimestamp": None},
    "message": {"messageDigest": "digest", "signature": None},
    "digest": {"algorithm": None, "digest": None},
    "envelope": {"payload": None, "payloadType": None, "signatures": "signature"},
    "signature": {"sig": None, "keyid": None},
    "entry": {"logIndex": None, "logId": "log", "kindVersion": "kind", "integratedTime": None,
              "inclusionPromise": "promise", "inclusionProof": "proof",
              "canonicalizedBody": None},
    "log": {"keyId": None},
    "kind": {"kind": None, "version": None},
    "promise": {"signedEntryTimestamp": None},
    "proof": {"logIndex": None, "rootHash": None, "treeSize": None, "hashes": None,
              "checkpoint": "checkpoint"},
    "checkpoint": {"envelope": None},
    "statement": {"_type": None, "subject": "subject", "predicateType": None,
                  "predicate": None},
    "subject": {"name": None, "uri": None, "digest": None, "content": None,
                "downloadLocation": None, "mediaType": None, "annotations": None},
}


def check_bundle_fields(doc: Any, kind: str = "bundle", where: str = "bundle") -> None:
    """Raise `MalformedError` (check `bundle`) naming the first field outside the schema.
    Values of the wrong shape are left to the parser, which says what it wanted."""
    items = doc if isinstance(doc, list) else [doc]
    for item in items:
        if not isinstance(item, dict):
            continue
        fields = _SCHEMA[kind]
        for key, value in item.items():
            if key not in fields:
                raise MalformedError("bundle", f"{where} has the field {key[:80]!r}, which the "
                                     "bundle schema does not name (sigstore-go refuses it)")
            inner = fields[key]
            if inner is not None:
                check_bundle_fields(value, inner, f"{where}.{key}")
