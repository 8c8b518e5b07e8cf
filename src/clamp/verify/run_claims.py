"""What a provenance file says about the whole run, checked against its records.

`clamp provenance verify` decides every record again (clamp.verify.reverify); the document's
own claims — `summary`, `status`, `exitCode` — are then derived from those records, as
`clamp.verify.run` derived them, and must agree. Otherwise a file whose every record is true
could still say the run passed: a strict run with failed records (`signature_failed`, exit 3)
edited to `status: warnings, exitCode: 0` reproduced record by record, and a reader of the
status, or of the code, took the run for a success (session 13).

`status` is derived again (`run_outcome`, `run_status`: the decisions, their findings' kinds,
the unpinned entries and whether the dispatch failed — the dispatch answer itself is an
observation, taken as recorded), and a passing status (`verified`, `warnings`) must be what the
records give. Which failing status a failed run recorded is not compared: `clamp update` writes
this document too, its own statuses mapped onto these words, and whichever failing word a file
says, it says the run failed. `exitCode`'s numbering belongs to the release (and the command)
that wrote the file, so only what every release says is checked: a failing status never 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

from clamp.verify.decision import EntryDecision, Finding, Kind, run_outcome, run_status

if TYPE_CHECKING:
    from clamp.verify.provenance import ProvenanceDocument, ProvenanceRecord
    from clamp.verify.reverify import Discrepancy

KINDS: frozenset[str] = frozenset(get_args(Kind))
PASSING = ("verified", "warnings")  # the statuses a run exits 0 with (README, "Exit codes")


def summary_discrepancies(doc: ProvenanceDocument) -> list[Discrepancy]:
    """Every way `summary`, `status` or `exitCode` is not what the records give."""
    from clamp.verify.reverify import Discrepancy

    out: list[Discrepancy] = []
    statuses = [r.trustStatus for r in doc.records]
    decisions = [r.policyDecision for r in doc.records]
    derived = {"total": len(doc.records), "valid": statuses.count("valid"),
               "unsigned": statuses.count("unsigned"), "invalid": statuses.count("invalid"),
               "identity_mismatch": statuses.count("identity_mismatch"),
               "error": statuses.count("error"), "passed": decisions.count("pass"),
               "warned": decisions.count("warn"), "failed": decisions.count("fail"),
               "updates": decisions.count("update")}
    recorded = doc.summary.model_dump()
    for key, value in derived.items():
        if recorded[key] != value:
            out.append(Discrepancy("summary", key,
                                   f"recorded {recorded[key]}, the records give {value}"))
    status = derived_status(doc)
    if doc.status in PASSING and status != doc.status and (
            status not in PASSING or doc.status == "verified"):
        out.append(Discrepancy("status", "status", f"recorded {doc.status!r}, the records give "
                               f"{status!r}" + _why(doc)))
    if doc.exitCode == 0 and doc.status not in PASSING:
        out.append(Discrepancy("exitCode", "exitCode", f"recorded {doc.exitCode} with status "
                               f"{doc.status!r}: only a passing run exits 0"))
    return out


def derived_status(doc: ProvenanceDocument) -> str:
    """The `status` `clamp verify --matrix` gives these records, unpinned entries and dispatch."""
    decisions = [_decision(r) for r in doc.records]
    failed = doc.dispatch is not None and doc.dispatch.status == "failed"
    return run_status(run_outcome(decisions, dispatch_failed=failed), decisions,
                      list(doc.skipped))


def _decision(record: ProvenanceRecord) -> EntryDecision:
    """The record's decision as the run held it (its findings' kinds are what the outcome
    reads); a finding of no known kind is already a discrepancy of the record's own."""
    findings = []
    for text in record.findings:
        kind, _, said = text.partition(": ")
        if kind in KINDS:
            findings.append(Finding(kind, said))  # type: ignore[arg-type]  # checked: KINDS
    return EntryDecision(record.policyMode, record.policyDecision, tuple(findings),
                         record.policyPath)


def _why(doc: ProvenanceDocument) -> str:
    failed = [r.entry for r in doc.records if r.policyDecision == "fail"]
    return f" (failed: {', '.join(failed[:5])})" if failed else ""


def stale_discrepancy(record: ProvenanceRecord) -> str | None:
    """Why the record's `stale` is not what its own age and TTL give (clamp.verify.entry), if
    it is not: `stale: false` beside a 45-day-old pin with a 30-day TTL hid the finding."""
    from clamp.verify.entry import FUTURE_TOLERANCE_DAYS

    age, ttl = record.ageDays, record.ttlDays
    stale = age is not None and ttl is not None and (age > ttl or age < -FUTURE_TOLERANCE_DAYS)
    if record.stale != stale:
        return f"recorded {record.stale}, age {age} days and TTL {ttl} give {stale}"
    return None
