"""rocm_provenance.json for an update: the verification evidence of every candidate verified.

The same document `clamp verify` writes (clamp.verify.run.build_document), one record per
candidate digest that was checked, pinned or rejected, as the entry would read with that digest.
Readers of verify's provenance (telemetry, reports) therefore read an update's evidence unchanged.

A record's tag state and age are what the update's `EntryCheck` observed, judged against the
record's digest: the tag as it was asked, and the pin's age as the entry reads after the update
(pinned today, or the current pin's own `added` when it was not rewritten; none for a candidate
never pinned).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from clamp.atomic import write_atomic
from clamp.update.candidates import Examined
from clamp.update.report import Status
from clamp.update.run import UpdateRun
from clamp.verify.decision import RunOutcome, decide
from clamp.verify.pipeline import EntryOutcome
from clamp.verify.provenance import ProvenanceDocument
from clamp.verify.run import build_document

# The provenance document's status vocabulary is verify's; an update's statuses map onto it.
# Its `exitCode` is the update's own (the face's code for the update's status).
_STATUS_OUTCOME: dict[Status, RunOutcome] = {
    "nothing_to_do": "verified", "updated": "verified", "partially_updated": "verified",
    "nothing_updated": "signature_failed", "pin_unverified": "signature_failed",
    "registry_error": "registry_error"}


def document(run: UpdateRun) -> ProvenanceDocument:
    loaded = run.loaded
    items = [item for item in run.examined if item.verification is not None]
    pinned_on: dict[int, date | None] = {}
    for pin in run.pins:  # the first pin of an item, as the scan it replaces found
        pinned_on.setdefault(id(pin.examined), pin.entry.added)
    outcomes = [_outcome(item, pinned_on) for item in items]
    decisions = [decide(o, item.entry_check.settings.policy)
                 for o, item in zip(outcomes, items, strict=True)]
    doc = build_document(loaded, outcomes, decisions, None,
                         _STATUS_OUTCOME.get(run.status, "failed"), run.exit_code, skipped=[])
    return doc.model_copy(update={"generatedAt": run.report.generated_at})


def _added(item: Examined, pinned_on: dict[int, date | None]) -> date | None:
    """When the record's digest was pinned, as the entry reads after this update.

    `pinned_on`: each pin's `added`, by the identity of the examined item it pins (looked up,
    not searched: a scan of every pin for every record was quadratic in the entries)."""
    if id(item) in pinned_on:
        return pinned_on[id(item)]
    if item.entry.digest is not None and str(item.digest) == item.entry.digest:
        return item.entry.added  # the current pin, not rewritten: its own age
    return None  # a candidate that was never pinned


def _outcome(item: Examined, pinned_on: dict[int, date | None]) -> EntryOutcome:
    assert item.verification is not None and item.digest is not None and item.tag is not None
    added = _added(item, pinned_on)
    entry = item.entry.model_copy(update={
        "digest": str(item.digest), "added": added,
        "platform_digest": str(item.platform_digest) if item.platform_digest else None})
    check = item.entry_check.with_entry(entry)
    tag = check.judged_against(item.tag, item.digest, added)
    return EntryOutcome(entry, item.trust, item.verification, tag,
                        check.platform_mismatch(item.verification), check.settings)


def render(run: UpdateRun) -> str:
    """The provenance document's text (written with the matrix by `clamp.update.commit`)."""
    return document(run).model_dump_json(indent=2) + "\n"


def write(path: Path, run: UpdateRun) -> None:
    write_atomic(path, render(run))
