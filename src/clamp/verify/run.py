"""A whole `clamp verify --matrix` run: verify, decide, dispatch, and build the provenance.

The run ends in a typed outcome (`RunOutcome`); the exit code is the face's decision, handed in
as `exit_code_of` so that the provenance records the very number the process exits with."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from clamp import __version__
from clamp.atomic import write_atomic
from clamp.errors import BadInputError, DispatchError
from clamp.matrix import LoadedMatrix, effective, select_image
from clamp.matrix.select import EntrySettings
from clamp.oci.store import Stores
from clamp.verify.decision import EntryDecision, RunOutcome, decide, run_outcome, run_status
from clamp.verify.decision import force_dispatch as with_dispatch
from clamp.verify.dispatch import dispatch, request_from_env
from clamp.verify.entry import image_ref_of
from clamp.verify.evidence import attach as attach_evidence
from clamp.verify.pipeline import EntryOutcome, verify_entries
from clamp.verify.policy import PolicyCache
from clamp.verify.provenance import (
    TIME_SOURCES,
    DispatchInfo,
    MatrixInfo,
    ProvenanceDocument,
    ProvenanceRecord,
    ResolvedInfo,
    SigningTime,
    Summary,
    ToolInfo,
    TrustedRootInfo,
)


@dataclass
class MatrixRun:
    loaded: LoadedMatrix
    outcomes: list[EntryOutcome]
    decisions: list[EntryDecision]
    document: ProvenanceDocument
    outcome: RunOutcome
    exit_code: int  # the face's code for `outcome`, as recorded in `document.exitCode`


async def run_matrix(loaded: LoadedMatrix, stores: Stores, *,
                     exit_code_of: Callable[[RunOutcome], int], version: str | None = None,
                     os_name: str | None = None, concurrency: int = 16,
                     force_dispatch: bool = False, today: date | None = None,
                     on_done: Callable[[EntryOutcome], None] | None = None) -> MatrixRun:
    entries = loaded.matching(version, os_name, pinned_only=True)
    if not loaded.model.images:
        # As for a filter that matches nothing: a run that verified nothing and skipped nothing
        # would read as success ("0 entries ... exit 0: verified"). Unpinned entries are
        # different: they are listed as skipped and make the status `warnings`.
        raise BadInputError("the matrix lists no images: nothing to verify",
                            where=str(loaded.path))
    outcomes = await verify_entries(stores, loaded, entries, concurrency=concurrency,
                                    today=today, on_done=on_done)
    decisions = [decide(o, settings_of(loaded, o).policy) for o in outcomes]
    if force_dispatch:
        decisions = [with_dispatch(d) for d in decisions]
    dispatch_info = _dispatch(loaded, outcomes, decisions, forced=force_dispatch)
    outcome = run_outcome(decisions, dispatch_failed=bool(dispatch_info and
                                                          dispatch_info.status == "failed"))
    code = exit_code_of(outcome)
    skipped = [e.id for e in loaded.model.images if e.digest is None
               and (version is None or e.version == version)
               and (os_name is None or e.os == os_name)]
    document = build_document(loaded, outcomes, decisions, dispatch_info, outcome, code,
                              skipped)
    return MatrixRun(loaded, outcomes, decisions, document, outcome, code)


def _dispatch(loaded: LoadedMatrix, outcomes: list[EntryOutcome],
              decisions: list[EntryDecision], *, forced: bool) -> DispatchInfo | None:
    """Dispatch the update workflow for entries whose decision asks for it (`dispatch`).

    Without a GITHUB_TOKEN and without --dispatch (a pull request's read-only job, a developer's
    terminal) the dispatch is recorded as skipped, not failed: the findings still show.
    """
    wanted = [(o, d) for o, d in zip(outcomes, decisions, strict=True) if d.dispatch]
    if not wanted:
        return None
    entries = [o.entry.id for o, _ in wanted]
    reasons = "; ".join(f"{o.entry.id}: " + ", ".join(sorted({f.kind for f in d.problems}))
                        for o, d in wanted)
    config = loaded.model.dispatch
    info = DispatchInfo(requested=True, workflow=config.workflow if config else None,
                        ref=config.ref if config else None, repository=None, entries=entries,
                        reasons=reasons, status="dispatched", error=None)
    if not forced and not os.environ.get("GITHUB_TOKEN"):
        return info.model_copy(update={"status": "skipped",
                                       "error": "GITHUB_TOKEN not set; dispatch skipped"})
    try:
        request = request_from_env(info.workflow, info.ref, entries, reasons)
        info = info.model_copy(update={"workflow": request.workflow, "ref": request.ref,
                                       "repository": request.repository})
        dispatch(request)
    except DispatchError as exc:
        return info.model_copy(update={"status": "failed", "error": str(exc)})
    return info


def build_document(loaded: LoadedMatrix, outcomes: list[EntryOutcome],
                   decisions: list[EntryDecision], dispatch_info: DispatchInfo | None,
                   outcome: RunOutcome, code: int, skipped: list[str]) -> ProvenanceDocument:
    """The provenance document; `code` is the exit code the face decided for `outcome`."""
    records = [record_of(loaded, o, d) for o, d in zip(outcomes, decisions, strict=True)]
    records, roots = attach_evidence(records, outcomes, decisions)
    statuses = [r.trustStatus for r in records]
    summary = Summary(
        total=len(records), valid=statuses.count("valid"), unsigned=statuses.count("unsigned"),
        invalid=statuses.count("invalid"),
        identity_mismatch=statuses.count("identity_mismatch"), error=statuses.count("error"),
        passed=sum(d.decision == "pass" for d in decisions),
        warned=sum(d.decision == "warn" for d in decisions),
        failed=sum(d.decision == "fail" for d in decisions),
        updates=sum(d.decision == "update" for d in decisions))
    return ProvenanceDocument(
        tool=ToolInfo(version=__version__),
        generatedAt=datetime.now(UTC).replace(microsecond=0),
        matrix=MatrixInfo(path=str(loaded.path), sha256=loaded.sha256, layout=loaded.layout,
                          policyFile=str(loaded.policy_path) if loaded.policy_path else None,
                          policySha256=loaded.policy_sha256),
        trustedRoots=_roots(loaded),
        resolved=_resolved(loaded),
        status=run_status(outcome, decisions, skipped),
        exitCode=int(code), summary=summary, dispatch=dispatch_info, skipped=skipped,
        records=records, roots=roots)


def settings_of(loaded: LoadedMatrix, outcome: EntryOutcome) -> EntrySettings:
    """The entry's merged settings: its EntryCheck's, or merged here for an outcome rebuilt
    from recorded evidence (`provenance verify`), which had no check."""
    return outcome.settings or effective(loaded.model, outcome.entry)


def record_of(loaded: LoadedMatrix, outcome: EntryOutcome,
              decision: EntryDecision) -> ProvenanceRecord:
    entry = outcome.entry
    verification = outcome.verification
    result = verification.result
    image = verification.image
    ref = image_ref_of(entry, settings_of(loaded, outcome))
    status = "error" if verification.registry_error is not None else {
        "verified": "valid"}.get(result.verdict, result.verdict)
    signer = result.signer if result.ok else None
    return ProvenanceRecord(
        entry=entry.id, version=entry.version, os=entry.os, platform=entry.platform,
        image=ref.reference, tag=ref.tag_reference, digest=entry.digest,
        platformDigest=str(image.platform_digest) if image and image.platform_digest else
        entry.platform_digest,
        digestAlgorithm=entry.digest.split(":", 1)[0] if entry.digest else None,
        digestVerified=image is not None and outcome.platform_mismatch is None,
        trustStatus=status,
        issuer=signer.issuer if signer else None,
        identity=signer.identity if signer else None,
        keyFingerprint=signer.key_fingerprint if signer else None,
        timestamp=SigningTime(time=result.integrated_time if result.ok else None,
                              source=TIME_SOURCES.get(result.time_source) if result.ok else None),
        logIndex=result.log_index if result.ok else None,
        logId=result.log_id if result.ok else None,
        signatureKind=result.signature_kind if result.ok else None,
        tagState=outcome.tag.state, currentTagDigest=str(outcome.tag.current)
        if outcome.tag.current else None,
        stale=outcome.tag.stale, ageDays=outcome.tag.age_days, ttlDays=outcome.tag.ttl_days,
        policyMode=decision.mode, policyDecision=decision.decision, policyPath=decision.path,
        findings=[f"{f.kind}: {f.text}" for f in decision.findings],
        trust=list(outcome.trust.names), verification=result,
        attestation=verification.attestation)


def _roots(loaded: LoadedMatrix) -> list[TrustedRootInfo]:
    """Each trust entry's root, hashed from the very bytes that were parsed to verify (read
    once per loaded matrix by `PolicyCache`), never from the file read again."""
    cache = PolicyCache(loaded)
    out = []
    for name in loaded.model.trust:
        root = cache.trusted_root(name)
        if root is None:
            out.append(TrustedRootInfo(trust=name, source="embedded:sigstore-public-good",
                                       sha256=None))
        else:
            out.append(TrustedRootInfo(trust=name, source=str(root.path), sha256=root.sha256))
    return out


def _resolved(loaded: LoadedMatrix) -> ResolvedInfo | None:
    try:
        chosen = select_image(loaded.model)
    except BadInputError:
        return None
    if chosen.ref.digest is None:
        return None
    return ResolvedInfo(entry=chosen.entry.id, image=chosen.ref.reference,
                        digest=chosen.ref.digest, reason=chosen.reason)


def write_provenance(path: Path, document: ProvenanceDocument) -> None:
    write_atomic(path, document.model_dump_json(indent=2) + "\n")
