"""Reading trust evidence from `rocm_provenance.json`, tolerantly.

The verifier writes this file; telemetry only reads it, so it must survive older and newer
versions of its shape, and files written by the original per-image verifier: a missing field is
null, an unknown field is ignored, a field may be spelled in camelCase or snake_case
(`trustStatus`/`trust_status`), and four layouts are accepted: the `{"records": [...]}`
document, a bare list of records, a single record at the top level (one image verified for
the run, which is then also the run's resolved image), and the origin verifier's own
`{image, policyMode, requireSignature, attestMode, provenance: {...}}`, read as that single
record for its image. Evidence is keyed by digest, because a
digest (not a tag) names what actually ran.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clamp.errors import BadInputError
from clamp.telemetry.jsonfile import read_json

TRUSTED = "valid"
KNOWN_STATUSES = ("valid", "unsigned", "invalid", "identity_mismatch", "error")
# Words other verifiers use for a signature that verified: read as "valid" so such an image is
# not reported untrusted. Anything else is kept as written (and so counts as untrusted).
_VALID_SYNONYMS = frozenset({"verified", "trusted", "ok", "pass", "passed", "success"})
_DIGEST_RE = re.compile(r"(sha256|sha384|sha512):[0-9a-fA-F]{32,128}")


@dataclass(frozen=True)
class Evidence:
    """What the verifier recorded for one image digest."""

    digest: str
    image: str | None
    trust_status: str
    issuer: str | None
    identity: str | None
    timestamp: str | None
    timestamp_source: str | None
    log_index: int | None
    digest_algorithm: str | None
    policy_decision: str | None
    policy_mode: str | None


@dataclass(frozen=True)
class Provenance:
    """All evidence in one provenance file, plus the digest it marks as resolved for the run."""

    source: str | None
    by_digest: dict[str, Evidence]
    resolved_digest: str | None
    generated_at: str | None

    @classmethod
    def empty(cls) -> Provenance:
        return cls(source=None, by_digest={}, resolved_digest=None, generated_at=None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _digest(*candidates: Any) -> str | None:
    for candidate in candidates:
        if isinstance(candidate, str):
            match = _DIGEST_RE.search(candidate)
            if match:
                return match.group(0).lower()
    return None


def _field(record: dict[str, Any], camel: str) -> Any:
    """`record[camel]`, else its snake_case spelling (`logIndex` -> `log_index`)."""
    if camel in record:
        return record[camel]
    return record.get(re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower())


def _status(value: Any) -> str:
    text = _text(value)
    if text is None:
        return "unknown"
    folded = text.strip().lower().replace("-", "_").replace(" ", "_")
    return TRUSTED if folded in _VALID_SYNONYMS else folded


def _evidence(record: dict[str, Any]) -> Evidence | None:
    digest = _digest(record.get("digest"), _field(record, "imageDigest"), record.get("image"))
    if digest is None:
        return None
    stamp = record.get("timestamp")
    stamp_time = stamp_source = None
    if isinstance(stamp, dict):
        stamp_time, stamp_source = _text(stamp.get("time")), _text(stamp.get("source"))
    elif isinstance(stamp, str):
        stamp_time = stamp
    log_index = _field(record, "logIndex")
    return Evidence(
        digest=digest, image=_text(record.get("image")),
        trust_status=_status(_field(record, "trustStatus")),
        issuer=_text(record.get("issuer")), identity=_text(record.get("identity")),
        timestamp=stamp_time, timestamp_source=stamp_source,
        log_index=log_index if isinstance(log_index, int) and not isinstance(log_index, bool)
        else None,
        digest_algorithm=_text(_field(record, "digestAlgorithm")) or digest.split(":", 1)[0],
        policy_decision=_text(_field(record, "policyDecision")),
        policy_mode=_text(_field(record, "policyMode")))


def _is_record(document: dict[str, Any]) -> bool:
    """A top-level object that is itself one image's record (the original verifier's file)."""
    return "records" not in document and (
        _field(document, "trustStatus") is not None
        or _digest(document.get("digest"), _field(document, "imageDigest")) is not None)


def _is_origin_document(document: Any) -> bool:
    """The document the origin's verify_rocm_digest.py wrote to PROVENANCE_OUTPUT."""
    return (isinstance(document, dict) and "records" not in document
            and isinstance(document.get("provenance"), dict)
            and isinstance(document.get("image"), str))


def parse_provenance(document: Any, source: str | None = None) -> Provenance:
    """Build `Provenance` from a decoded document (object with records, or a bare list)."""
    resolved = None
    generated = None
    if _is_origin_document(document):
        # The origin verifier's own file: {image, policyMode, ..., provenance: {...}}, evidence
        # for its one image (which was the run's resolved image).
        document = {**document["provenance"], "image": document.get("image"),
                    "policyMode": document.get("policyMode")}
    if isinstance(document, list):
        records: Any = document
    elif isinstance(document, dict) and _is_record(document):
        records = [document]
        resolved = _digest(document.get("digest"), _field(document, "imageDigest"),
                           document.get("image"))
        generated = _text(_field(document, "generatedAt"))
    elif isinstance(document, dict):
        records = document.get("records", [])
        res = document.get("resolved")
        if isinstance(res, dict):
            resolved = _digest(res.get("digest"), res.get("image"))
        generated = _text(document.get("generatedAt"))
    else:
        raise BadInputError("provenance is neither an object nor a list of records",
                            where=source)
    if not isinstance(records, list):
        raise BadInputError("provenance 'records' is not a list", where=source)
    by_digest: dict[str, Evidence] = {}
    for item in records:
        if isinstance(item, dict):
            evidence = _evidence(item)
            if evidence is not None:
                by_digest.setdefault(evidence.digest, evidence)
    return Provenance(source=source, by_digest=by_digest, resolved_digest=resolved,
                      generated_at=generated)


def load_provenance(path: Path, *, required: bool) -> Provenance:
    """Read a provenance file; absent is fine unless the user named it explicitly."""
    if not path.exists():
        if required:
            raise BadInputError("provenance file not found", where=str(path))
        return Provenance.empty()
    return parse_provenance(read_json(path, "provenance"), str(path))
