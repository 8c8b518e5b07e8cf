"""Policy modes applied to an entry's findings: pass, warn, fail, or update.

`strict` fails on anything unverified or out of date; `warn` reports; `auto_update` asks for an
update on drift or a failed signature and reports the rest. The path that led to a decision is
recorded in words, so a reviewer can see why an image passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from clamp.errors import DigestMismatchError
from clamp.exitcodes import ExitCode
from clamp.verify.pipeline import EntryOutcome

Kind = Literal["signature", "attestation", "integrity", "drift", "missing-tag", "stale",
               "registry", "note"]
Decision = Literal["pass", "warn", "fail", "update"]


@dataclass(frozen=True)
class Finding:
    kind: Kind
    text: str


@dataclass(frozen=True)
class EntryDecision:
    mode: Literal["strict", "warn", "auto_update"]
    decision: Decision
    findings: tuple[Finding, ...]
    path: str

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind != "note")


def findings_of(outcome: EntryOutcome) -> list[Finding]:
    found: list[Finding] = []
    verification = outcome.verification
    result = verification.result
    if verification.registry_error is not None:
        kind: Kind = "integrity" if isinstance(verification.registry_error,
                                               DigestMismatchError) else "registry"
        found.append(Finding(kind, str(verification.registry_error)))
    elif not result.ok:
        if result.verdict == "unsigned" and not outcome.trust.require_signature:
            found.append(Finding("note", "unsigned; signatures are not required"))
        else:
            found.append(Finding("signature", f"{result.verdict}: {result.reason}"))
    attestation = verification.attestation
    if attestation is not None and not attestation.ok:
        found.append(Finding("attestation", f"{attestation.verdict}: {attestation.reason}"))
    if outcome.platform_mismatch:
        found.append(Finding("integrity", outcome.platform_mismatch))
    tag = outcome.tag
    if tag.state == "drift":
        found.append(Finding("drift", f"tag {tag.tag_reference} now names {tag.current}"))
    elif tag.state == "missing":
        found.append(Finding("missing-tag", f"tag {tag.tag_reference} no longer exists"))
    elif tag.state == "error" and verification.registry_error is None:
        found.append(Finding("registry", f"tag check failed: {tag.error}"))
    if tag.stale:
        found.append(Finding("stale", f"pin is {tag.age_days} days old (TTL {tag.ttl_days})"))
    return found


def decide(outcome: EntryOutcome, mode: Literal["strict", "warn", "auto_update"]) -> EntryDecision:
    findings = findings_of(outcome)
    problems = [f for f in findings if f.kind != "note"]
    decision: Decision
    if not problems:
        decision = "pass"
    elif mode == "strict":
        decision = "fail"
    elif mode == "auto_update" and any(f.kind in ("drift", "signature", "missing-tag")
                                       for f in problems):
        decision = "update"
    else:
        decision = "warn"
    said = "; ".join(f"{f.kind}: {f.text}" for f in findings) or \
        "digest, signature and tag verified"
    return EntryDecision(mode, decision, tuple(findings), f"{mode} | {said} | -> {decision}")


def run_exit_code(decisions: list[EntryDecision], *, dispatch_failed: bool) -> ExitCode:
    """One exit code for the run: the most severe outcome wins (see README, exit codes)."""
    failed = [d for d in decisions if d.decision == "fail"]
    kinds = {f.kind for d in failed for f in d.problems}
    if kinds & {"signature", "attestation"}:
        return ExitCode.SIGNATURE_FAILED
    if kinds - {"registry"}:
        return ExitCode.FAILED
    if dispatch_failed:
        return ExitCode.DISPATCH_ERROR
    if kinds or any(f.kind == "registry" for d in decisions for f in d.problems):
        return ExitCode.REGISTRY_ERROR
    if any(d.decision in ("warn", "update") for d in decisions):
        return ExitCode.WARNINGS
    return ExitCode.OK
