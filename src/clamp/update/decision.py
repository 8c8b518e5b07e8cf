"""From examined candidates to pins, per-entry reports, and the run's status.

The rule is one line: a candidate is pinned if and only if it verified. Everything else here is
bookkeeping: the provenance block the tool writes for a pin, the report a reviewer reads, and the
run's status (the face maps it to the documented exit code, docs/update.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from clamp.matrix import ImageEntry
from clamp.update.candidates import Examined
from clamp.update.report import Counts, EntryReport, Outcome, Signing, Status


@dataclass(frozen=True)
class Pin:
    """One verified candidate to write: an existing entry re-pinned, or a new entry."""

    entry: ImageEntry  # the entry as it will read after the write
    new: bool
    source: ImageEntry | None  # a new entry: the entry whose line it extends
    examined: Examined

    @property
    def entry_id(self) -> str:
        return self.entry.id


def provenance_block(examined: Examined, now: datetime) -> dict[str, Any]:
    """What the tool records about a verified pin (never written by hand; docs/matrix.md).

    Key names avoid the original layout's trust keys (`identity`, `issuer`, `key_path`), which
    are configuration there, not evidence. Absent facts are left out rather than written as null.
    """
    assert examined.verification is not None
    result = examined.verification.result
    signer = result.signer
    block: dict[str, Any] = {
        "verified_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tag": examined.tag_reference.tag,
        "signature_kind": result.signature_kind,
        "signer_identity": signer.identity if signer else None,
        "signer_issuer": signer.issuer if signer else None,
        "key_fingerprint": signer.key_fingerprint if signer else None,
        "log_index": result.log_index,
    }
    return {key: value for key, value in block.items() if value is not None}


def plan(examined: Sequence[Examined], *, today: date, now: datetime) -> list[Pin]:
    """A pin for every verified candidate, in the order examined."""
    pins: list[Pin] = []
    for item in examined:
        if item.state != "verified":
            continue
        assert item.digest is not None
        entry = item.entry.model_copy(update={
            "digest": str(item.digest), "added": today,
            "platform_digest": str(item.platform_digest) if item.platform_digest else None,
            "provenance": provenance_block(item, now)}, deep=True)
        pins.append(Pin(entry, item.kind == "new", item.source, item))
    return pins


def entry_report(item: Examined) -> EntryReport:
    outcome: Outcome
    if item.state == "verified":
        outcome = "added" if item.kind == "new" else "updated"
    else:
        outcome = item.state
    verification = item.verification
    signing = None
    if item.state == "verified" and verification is not None:
        result = verification.result
        signer = result.signer
        signing = Signing(signature_kind=result.signature_kind,
                          identity=signer.identity if signer else None,
                          issuer=signer.issuer if signer else None,
                          key_fingerprint=signer.key_fingerprint if signer else None,
                          log_index=result.log_index, integrated_time=result.integrated_time)
    return EntryReport(
        entry=item.entry.id, kind=item.kind, source=item.source.id if item.source else None,
        tag=str(item.tag_reference), outcome=outcome, old_digest=item.entry.digest,
        new_digest=str(item.digest) if item.digest else None,
        old_platform_digest=item.entry.platform_digest,
        new_platform_digest=str(item.platform_digest) if item.platform_digest else None,
        drift=item.drift, rollback=item.rollback,
        renewed=item.renew and item.state == "verified", check=item.check,
        reason=item.reason, signing=signing,
        verification=verification.result if verification else None,
        attestation=verification.attestation if verification else None,
        pin_state=item.pin_state, pin_reason=item.pin_reason)


def counts(reports: Sequence[EntryReport]) -> Counts:
    def n(outcome: str) -> int:
        return sum(r.outcome == outcome for r in reports)

    return Counts(updated=n("updated"), added=n("added"), rejected=n("rejected"),
                  errors=n("error"), current=n("current"), missing=n("missing"),
                  unverified=sum(r.unverified_pin for r in reports))


def run_status(reports: Sequence[EntryReport]) -> Status:
    """What the run came to, the face's exit code follows from it (docs/update.md):
    `pin_unverified` a pin no longer verifies and nothing verified replaced it (whatever else
    was pinned: CI still runs that image); `nothing_to_do`; `updated`; `partially_updated`
    updated but something was rejected or failed; `nothing_updated` candidates found but none
    verified; `registry_error` nothing verified and the registry failed (a pin that could not
    be checked counts as a registry failure)."""
    total = counts(reports)
    changed = total.updated + total.added
    if total.unverified:
        return "pin_unverified"
    unchecked = sum(r.pin_state == "error" and r.outcome != "updated" for r in reports)
    if changed and (total.rejected or total.errors):
        return "partially_updated"
    if changed:
        return "updated"
    if total.rejected:
        return "nothing_updated"
    if total.errors or unchecked:
        return "registry_error"
    return "nothing_to_do"
