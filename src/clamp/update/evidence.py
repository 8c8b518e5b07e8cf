"""rocm_provenance.json for an update: the verification evidence of every candidate verified.

The same document `clamp verify` writes (clamp.verify.run.build_document), one record per
candidate digest that was checked, pinned or rejected, as the entry would read with that digest.
Readers of verify's provenance (telemetry, reports) therefore read an update's evidence unchanged.
"""

from __future__ import annotations

from pathlib import Path

from clamp.atomic import write_atomic
from clamp.matrix import effective
from clamp.update.candidates import Examined
from clamp.update.report import Status
from clamp.update.run import UpdateRun
from clamp.verify.decision import RunOutcome, decide
from clamp.verify.pipeline import EntryOutcome
from clamp.verify.provenance import ProvenanceDocument
from clamp.verify.run import build_document
from clamp.verify.tags import TagCheck

# The provenance document's status vocabulary is verify's; an update's statuses map onto it.
# Its `exitCode` is the update's own (the face's code for the update's status).
_STATUS_OUTCOME: dict[Status, RunOutcome] = {
    "nothing_to_do": "verified", "updated": "verified", "partially_updated": "verified",
    "nothing_updated": "signature_failed", "pin_unverified": "signature_failed",
    "registry_error": "registry_error"}


def document(run: UpdateRun) -> ProvenanceDocument:
    loaded = run.loaded
    outcomes = [_outcome(run, item) for item in run.examined if item.verification is not None]
    decisions = [decide(o, effective(loaded.model, o.entry).policy) for o in outcomes]
    doc = build_document(loaded, outcomes, decisions, None,
                         _STATUS_OUTCOME.get(run.status, "failed"), run.exit_code, skipped=[])
    return doc.model_copy(update={"generatedAt": run.report.generated_at})


def _outcome(run: UpdateRun, item: Examined) -> EntryOutcome:
    assert item.verification is not None and item.digest is not None
    entry = item.entry.model_copy(update={
        "digest": str(item.digest),
        "platform_digest": str(item.platform_digest) if item.platform_digest else None})
    ttl = effective(run.loaded.model, entry).digest_ttl_days
    tag = TagCheck(entry.id, str(item.tag_reference), item.digest, item.digest, "current",
                   stale=False, age_days=0, ttl_days=ttl)
    return EntryOutcome(entry, item.trust, item.verification, tag, None)


def render(run: UpdateRun) -> str:
    """The provenance document's text (written with the matrix by `clamp.update.commit`)."""
    return document(run).model_dump_json(indent=2) + "\n"


def write(path: Path, run: UpdateRun) -> None:
    write_atomic(path, render(run))
