"""rocm_provenance.json: the evidence a verification run leaves behind, one record per entry.

Field names keep the original consumers' spelling (`trustStatus`, `policyDecision`, ...); every
field is always present, null when it does not apply, so readers never guess. The JSON Schema in
schemas/provenance.schema.json is exported from these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from clamp.factories import empty_list
from clamp.trust.result import VerificationResult
from clamp.verify.evidence import EmbeddedRoot, RecordEvidence

TrustStatus = Literal["valid", "unsigned", "invalid", "identity_mismatch", "error"]
Decision = Literal["pass", "warn", "fail", "update"]
PolicyMode = Literal["strict", "warn", "auto_update"]
TagState = Literal["current", "drift", "missing", "error"]
TimestampSource = Literal["SET", "inclusion_proof", "TSA"]

SCHEMA_VERSION: Literal[1] = 1
TIME_SOURCES: dict[str, TimestampSource] = {"set": "SET", "inclusion_proof": "inclusion_proof",
                                            "tsa": "TSA"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SigningTime(_Model):
    time: datetime | None = Field(description="verified signing time (UTC)")
    source: TimestampSource | None = Field(description="what vouches for the time")


class ProvenanceRecord(_Model):
    """One matrix entry's verification evidence and the policy decision taken on it."""

    entry: str = Field(description='matrix entry id, e.g. "6.4.4/ubuntu-22.04"')
    version: str
    os: str
    platform: str | None
    image: str = Field(description="registry/repository:tag@digest as verified")
    tag: str = Field(description="the tag reference the entry follows")
    digest: str | None = Field(description="pinned digest (index digest for multi-arch)")
    platformDigest: str | None = Field(description="digest of the platform manifest, if pinned")
    digestAlgorithm: str | None
    digestVerified: bool = Field(description="the bytes received hashed to the pin")
    trustStatus: TrustStatus
    issuer: str | None
    identity: str | None
    keyFingerprint: str | None
    timestamp: SigningTime
    logIndex: int | None
    logId: str | None
    signatureKind: str | None
    tagState: TagState | None = Field(description="does the tag still name the pin")
    currentTagDigest: str | None
    stale: bool
    ageDays: int | None
    ttlDays: int | None
    policyMode: PolicyMode
    policyDecision: Decision
    policyPath: str = Field(description="the findings and rule that led to the decision")
    findings: list[str]
    trust: list[str] = Field(description="trust entries applied")
    verification: VerificationResult
    attestation: VerificationResult | None
    evidence: RecordEvidence | None = Field(
        None, description="the material it was verified with, for `clamp provenance verify` "
                          "(docs/verify.md); null in files written before it was kept")


class ToolInfo(_Model):
    name: Literal["clamp"] = "clamp"
    version: str


class MatrixInfo(_Model):
    path: str
    sha256: str
    layout: Literal["native", "original"]
    policyFile: str | None
    policySha256: str | None


class TrustedRootInfo(_Model):
    trust: str
    source: str = Field(description="file path, or 'embedded:sigstore-public-good'")
    sha256: str | None


class ResolvedInfo(_Model):
    entry: str
    image: str
    digest: str
    reason: str


class DispatchInfo(_Model):
    requested: bool
    workflow: str | None
    ref: str | None
    repository: str | None
    entries: list[str]
    reasons: str | None
    status: Literal["dispatched", "failed", "skipped"]
    error: str | None


class Summary(_Model):
    total: int
    valid: int
    unsigned: int
    invalid: int
    identity_mismatch: int
    error: int
    passed: int
    warned: int
    failed: int
    updates: int


class ProvenanceDocument(_Model):
    """The whole file: header, summary, the dispatch taken, and one record per entry."""

    model_config = ConfigDict(extra="forbid", title="clamp rocm_provenance.json")

    schemaVersion: Literal[1] = SCHEMA_VERSION
    tool: ToolInfo
    generatedAt: datetime
    matrix: MatrixInfo
    trustedRoots: list[TrustedRootInfo]
    resolved: ResolvedInfo | None
    status: Literal["verified", "warnings", "failed", "signature_failed", "registry_error",
                    "dispatch_error"]
    exitCode: int
    summary: Summary
    dispatch: DispatchInfo | None
    skipped: list[str] = Field(description="unpinned entries, not verified (nothing to verify)")
    records: list[ProvenanceRecord]
    roots: list[EmbeddedRoot] = Field(
        default_factory=empty_list, description="the trusted roots the records name, once "
                                               "each, by the SHA-256 of their bytes")


def document_text(document: ProvenanceDocument) -> str:
    """The file's text: what `write_provenance` writes and `write_atomic_group` is given."""
    return document.model_dump_json(indent=2) + "\n"


def schema_text() -> str:
    import json

    return json.dumps(ProvenanceDocument.model_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
