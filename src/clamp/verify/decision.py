"""Policy modes applied to an entry's findings: pass, warn, fail, or update.

`strict` fails on anything unverified or out of date; `warn` reports; `auto_update` asks for an
update (a workflow dispatch) on drift, a missing tag or pin, or a failed signature: drift with a
still verified pin passes, but an image that does not verify fails the run as well, since CI
would otherwise run it until the update lands (and an update pins only what verifies). The path
that led to a decision is recorded in words, so a reviewer can see why an image passed.

Asking for an update never changes a decision: `dispatch` is a separate flag, so `--dispatch`
cannot turn a failure into a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from clamp.errors import DigestMismatchError, NotFoundError
from clamp.verify.pipeline import EntryOutcome

Kind = Literal["signature", "attestation", "integrity", "drift", "missing-tag", "pin-missing",
               "stale", "registry", "note"]
Decision = Literal["pass", "warn", "fail", "update"]
#: What a whole run came to, the most severe first; the provenance's `status` words (a passing
#: run with warnings says `warnings` there). The face maps it to the exit code.
RunOutcome = Literal["signature_failed", "failed", "dispatch_error", "registry_error",
                     "verified"]

#: Findings an update can fix (re-pin from the tag): they are what a dispatch is asked for.
UPDATABLE: frozenset[Kind] = frozenset({"drift", "signature", "missing-tag", "pin-missing"})
#: Findings that mean the pinned image itself does not verify: under `auto_update` they fail
#: the run (and dispatch the update); under `warn` they warn.
UNVERIFIED: frozenset[Kind] = frozenset({"signature", "attestation", "integrity"})


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
    dispatch: bool = False  # ask the update workflow to re-pin this entry

    @property
    def updatable(self) -> bool:
        return any(f.kind in UPDATABLE for f in self.problems)

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind != "note")


def findings_of(outcome: EntryOutcome) -> list[Finding]:
    found: list[Finding] = []
    verification = outcome.verification
    result = verification.result
    if verification.registry_error is not None:
        kind: Kind = "registry"
        if isinstance(verification.registry_error, DigestMismatchError):
            kind = "integrity"
        elif isinstance(verification.registry_error, NotFoundError) and verification.image is None:
            # The registry answered, and has no such pinned manifest (or the index has no such
            # platform): a fact about the pin, for the entry's mode to decide, not an outage.
            kind = "pin-missing"
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
        found.append(Finding("stale", tag.stale_text))
    return found


def decide(outcome: EntryOutcome, mode: Literal["strict", "warn", "auto_update"]) -> EntryDecision:
    findings = findings_of(outcome)
    problems = [f for f in findings if f.kind != "note"]
    decision: Decision
    kinds = {f.kind for f in problems}
    dispatch = mode == "auto_update" and bool(kinds & UPDATABLE)
    if not problems:
        decision = "pass"
    elif mode == "strict":
        decision = "fail"
    elif mode == "auto_update" and kinds & (UNVERIFIED | {"pin-missing"}):
        decision = "fail"  # CI must not run it while the update is made
    elif dispatch:
        decision = "update"
    else:
        decision = "warn"
    said = "; ".join(f"{f.kind}: {f.text}" for f in findings) or \
        "digest, signature and tag verified"
    then = " + dispatch" if dispatch and decision != "update" else ""
    return EntryDecision(mode, decision, tuple(findings),
                         f"{mode} | {said} | -> {decision}{then}", dispatch)


def force_dispatch(decision: EntryDecision) -> EntryDecision:
    """`--dispatch`: ask for an update whatever the mode; the decision itself is unchanged."""
    if decision.dispatch or not decision.updatable:
        return decision
    return EntryDecision(decision.mode, decision.decision, decision.findings,
                         decision.path + " + dispatch (--dispatch)", True)


def run_outcome(decisions: list[EntryDecision], *, dispatch_failed: bool) -> RunOutcome:
    """One outcome for the run: the most severe wins (see README, exit codes).

    Warnings (`warn`, `update`) are `verified`: they are reported, never coded as a failure. A
    failure never turns into a pass here, whatever was dispatched."""
    failed = [d for d in decisions if d.decision == "fail"]
    kinds = {f.kind for d in failed for f in d.problems}
    if kinds & {"signature", "attestation"}:
        return "signature_failed"
    if kinds - {"registry"}:
        return "failed"
    if dispatch_failed:
        return "dispatch_error"
    if kinds or any(f.kind == "registry" for d in decisions for f in d.problems):
        return "registry_error"
    return "verified"


def run_status(outcome: RunOutcome, decisions: list[EntryDecision],
               skipped: list[str]) -> RunOutcome | Literal["warnings"]:
    """The provenance's `status`: a passing run with warnings (warn or update decisions, or
    unpinned entries not verified) says `warnings`; its exit code is still the passing one."""
    if outcome == "verified" and (skipped or any(d.decision in ("warn", "update")
                                                 for d in decisions)):
        return "warnings"
    return outcome
