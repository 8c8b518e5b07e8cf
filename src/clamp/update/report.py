"""What `clamp update` found and did, as one model: `--json`, the PR body and CI outputs read it.

One `EntryReport` per examined entry or discovered release, with the outcome, the digests before
and after, and how the candidate verified (or which check rejected it and why, straight from the
verification result model), so no consumer has to parse a message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from clamp.trust.result import VerificationResult

Outcome = Literal["current", "missing", "updated", "added", "rejected", "error"]
Kind = Literal["pinned", "unpinned", "new"]
Status = Literal["nothing_to_do", "updated", "partially_updated", "nothing_updated",
                 "pin_unverified", "registry_error"]
PinState = Literal["verified", "failed", "error"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Signing(_Model):
    """How a pinned candidate verified: who signed it and the log entry, if any."""

    signature_kind: str | None
    identity: str | None
    issuer: str | None
    key_fingerprint: str | None
    log_index: int | None
    integrated_time: datetime | None


class EntryReport(_Model):
    entry: str = Field(description='entry id, e.g. "6.4.4/ubuntu-22.04" (new entries: theirs)')
    kind: Kind = Field(description="pinned entry, unpinned entry, or a newly discovered release")
    source: str | None = Field(description="for a new release: the entry whose line it extends")
    tag: str = Field(description="the tag reference examined")
    outcome: Outcome
    old_digest: str | None
    new_digest: str | None = Field(description="what the tag names now (hashed on receipt)")
    old_platform_digest: str | None
    new_platform_digest: str | None
    drift: bool = Field(description="a pinned entry's tag names another digest than the pin")
    rollback: bool = Field(False, description="drift to a candidate whose verified signing "
                           "time is earlier than the current pin's: pinned (it verified), and "
                           "flagged in the PR body as a possible rollback")
    renewed: bool = Field(description="same digest, re-verified because the pin was past its "
                          "TTL: `added` and provenance renewed")
    check: str | None = Field(description="rejected/error: the check that failed")
    reason: str | None = Field(description="rejected/error/missing: why")
    signing: Signing | None
    verification: VerificationResult | None
    attestation: VerificationResult | None
    pin_state: PinState | None = Field(None, description="the entry's current pin, verified "
                                       "again: verified, failed (does not verify, or is gone), "
                                       "error (could not be checked); null when unpinned")
    pin_reason: str | None = Field(None, description="failed/error: why")

    @property
    def changes_matrix(self) -> bool:
        return self.outcome in ("updated", "added")

    @property
    def unverified_pin(self) -> bool:
        """The current pin no longer verifies and no verified candidate replaced it."""
        return self.pin_state == "failed" and self.outcome != "updated"


class Counts(_Model):
    updated: int
    added: int
    rejected: int
    errors: int
    current: int
    missing: int
    unverified: int = Field(0, description="pins that no longer verify, with no verified "
                            "replacement")


class UpdateReport(_Model):
    """The whole run. Deterministic for the same registry state, except the timestamps."""

    tool: Literal["clamp"] = "clamp"
    tool_version: str
    generated_at: datetime
    matrix: str
    layout: Literal["native", "original"]
    sha256_before: str
    sha256_after: str
    discover: bool
    dry_run: bool
    requested_entries: list[str] | None
    requested_reasons: str | None
    changed: bool = Field(description="the matrix text differs (or would, under --dry-run)")
    written: bool
    status: Status
    exit_code: int
    counts: Counts
    entries: list[EntryReport]
    diff: str | None = Field(None, description="--dry-run: the unified diff")
    pr_body: str | None = None
    provenance: str | None = None
