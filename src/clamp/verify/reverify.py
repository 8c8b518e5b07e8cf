"""`clamp provenance verify`: is this provenance file true? Every record decided again, offline.

Each record's signatures are verified again from the bytes its `evidence` kept, with the policy it
kept (whose digest must match), against the trusted root it names by digest — the file's own copy,
or the auditor's `--trusted-root` files, which then must be the ones named. Verification runs at
the time the evidence carries (the log's integrated time from the SET or inclusion proof, the
RFC 3161 time), exactly as at the first verification: an expired certificate stays good when it was
valid when it was logged. The decision is then derived again from those results and the registry
observations the record kept (tag state, registry errors), and every derived field must equal the
recorded one. A record that failed then and fails again is consistent: the question answered is
"was this recorded truthfully?", not "did it pass?".

Registry observations (the tag moved, the registry answered 503) cannot be proved after the fact;
they are taken as recorded and only their consequences are checked. Signatures can be.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from clamp.digest import Digest, parse_digest
from clamp.errors import ClampError, DigestMismatchError, RegistryError
from clamp.location import Registry
from clamp.matrix.models import ImageEntry, entry_id
from clamp.oci.reference import Reference
from clamp.signed.image import ImageVerification, judge
from clamp.signed.locate import BundleArtifact, SignatureSet, SignedLayer
from clamp.trust.errors import TrustError
from clamp.trust.keys import load_public_key
from clamp.trust.policy import AllOf, Identity, Key, Policy
from clamp.trust.result import VerificationResult
from clamp.trust.root import TrustedRoot, parse_trusted_root
from clamp.verify.decision import EntryDecision, decide, force_dispatch
from clamp.verify.entry import TagCheck, no_trust
from clamp.verify.evidence import (
    MAX_EVIDENCE,
    MAX_ROOT_BYTES,
    RecordEvidence,
    policy_digest,
)
from clamp.verify.pipeline import EntryOutcome
from clamp.verify.policy import EntryTrust
from clamp.verify.provenance import TIME_SOURCES, ProvenanceDocument, ProvenanceRecord


@dataclass(frozen=True)
class Discrepancy:
    """One check that did not reproduce: which record (or the document), which check, why."""

    where: str
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.check}: {self.detail}"


@dataclass
class Report:
    records: int = 0
    reproduced: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)
    anchored: bool = False  # the roots came from the auditor, not from the file

    @property
    def ok(self) -> bool:
        return not self.discrepancies


class _Mismatch(Exception):
    def __init__(self, check: str, detail: str) -> None:
        super().__init__(detail)
        self.check = check
        self.detail = " ".join(detail.split())[:400]


def _b64(text: str, what: str, limit: int) -> bytes:
    if len(text) > (limit * 4) // 3 + 4:
        raise _Mismatch("evidence", f"{what} is larger than {limit} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _Mismatch("evidence", f"{what} is not base64") from None


def reverify_document(doc: ProvenanceDocument,
                      trusted_roots: Sequence[bytes] | None = None) -> Report:
    """Decide every record of `doc` again; with `trusted_roots` (the auditor's root files) a
    record must name one of them, otherwise the file's own copies are used."""
    report = Report(records=len(doc.records), anchored=trusted_roots is not None)
    roots = _roots(doc, trusted_roots, report)
    for n, record in enumerate(doc.records):
        where = f"records[{n}] ({record.entry})"
        try:
            _record(record, roots, anchored=trusted_roots is not None)
            report.reproduced += 1
        except _Mismatch as exc:
            report.discrepancies.append(Discrepancy(where, exc.check, exc.detail))
    from clamp.verify.run_claims import summary_discrepancies

    report.discrepancies += summary_discrepancies(doc)
    return report


def _roots(doc: ProvenanceDocument, trusted: Sequence[bytes] | None,
           report: Report) -> dict[str, TrustedRoot | str]:
    """Root digest -> parsed root, or the reason it cannot be used."""
    out: dict[str, TrustedRoot | str] = {}
    for n, root in enumerate(doc.roots):
        try:
            data = _b64(root.data, "root", MAX_ROOT_BYTES)
        except _Mismatch as exc:
            report.discrepancies.append(Discrepancy(f"roots[{n}]", "root", exc.detail))
            continue
        if hashlib.sha256(data).hexdigest() != root.sha256:
            report.discrepancies.append(Discrepancy(
                f"roots[{n}]", "root-digest", f"the bytes kept hash to "
                f"{hashlib.sha256(data).hexdigest()}, not the {root.sha256} records name"))
            continue
        if trusted is None:
            out[root.sha256] = _parse_root(data, root.source)
    if trusted is not None:
        for data in trusted:
            out[hashlib.sha256(data).hexdigest()] = _parse_root(data, "--trusted-root")
    return out


def _parse_root(data: bytes, source: str) -> TrustedRoot | str:
    try:
        return parse_trusted_root(data, source=source)
    except TrustError as exc:
        return f"unusable trusted root: {exc.reason}"


def _record(record: ProvenanceRecord, roots: dict[str, TrustedRoot | str], *,
            anchored: bool) -> EntryDecision:
    evidence = record.evidence
    if evidence is None:
        raise _Mismatch("evidence", "the record keeps no evidence (written before clamp kept it, "
                        "or removed)")
    if evidence.omitted is not None:
        raise _Mismatch("evidence", evidence.omitted)
    try:
        kept = policy_digest(evidence.policy)
    except ValueError as exc:  # an edited number RFC 8785 cannot hold (past 2**53): no crash
        raise _Mismatch("policy-digest", f"the policy kept has no canonical JSON ({exc})") from None
    if kept != evidence.policySha256:
        raise _Mismatch("policy-digest", f"the policy kept hashes to {kept}, the record says "
                        f"{evidence.policySha256}")
    _expect("policyMode", record.policyMode, evidence.policy.mode)
    _expect("trust", record.trust, [t.name for t in evidence.policy.trust])
    _check_subjects(record, evidence)
    trust = _trust(evidence, roots, anchored=anchored)
    verification = _verification(record, evidence, trust)
    _compare("verification", record.verification, verification.result)
    _compare("attestation", record.attestation, verification.attestation)
    outcome = _outcome(record, evidence, trust, verification)
    decision = decide(outcome, evidence.policy.mode)
    if record.policyPath == (forced := force_dispatch(decision)).path:
        decision = forced  # `--dispatch` (not recorded): it adds to the path, decides nothing
    _expect("policyDecision", record.policyDecision, decision.decision)
    _expect("policyPath", record.policyPath, decision.path)
    _expect("findings", record.findings, [f"{f.kind}: {f.text}" for f in decision.findings])
    _derived(record, evidence, verification.result)
    return decision


def _expect(name: str, recorded: object, derived: object) -> None:
    if recorded != derived:
        raise _Mismatch(name, f"recorded {recorded!r}, the evidence gives {derived!r}")


def _compare(name: str, recorded: VerificationResult | None,
             derived: VerificationResult | None) -> None:
    if recorded is None or derived is None:
        _expect(name, recorded and recorded.verdict, derived and derived.verdict)
        return
    left, right = recorded.model_dump(mode="json"), derived.model_dump(mode="json")
    for key in left:
        if left[key] != right[key]:
            raise _Mismatch(f"{name}.{key}", f"recorded {left[key]!r}, the evidence gives "
                            f"{right[key]!r}" + (f" ({derived.check}: {derived.reason})"
                                                 if not derived.ok else ""))


def _check_subjects(record: ProvenanceRecord, evidence: RecordEvidence) -> None:
    _expect("entry", record.entry, entry_id(record.version, record.os, record.platform))
    if record.digest is None or record.image != f"{record.tag}@{record.digest}":
        raise _Mismatch("digest", f"image {record.image!r} is not tag {record.tag!r} at digest "
                        f"{record.digest!r}")
    _expect("digestAlgorithm", record.digestAlgorithm, record.digest.split(":", 1)[0])
    digests = [s.digest for s in evidence.subjects]
    if digests and digests[0] != record.digest:
        raise _Mismatch("digest", f"recorded {record.digest}, the signatures kept were looked "
                        f"up for {digests[0]}")
    if len(digests) > 1 and record.platformDigest != digests[1]:
        raise _Mismatch("platformDigest", f"recorded {record.platformDigest}, the signatures "
                        f"kept were looked up for {digests[1]}")
    if len(digests) > 2:
        raise _Mismatch("evidence", "more than two subjects")
    if len(digests) > 1:
        _check_platform_child(record, evidence)
    for subject in evidence.subjects:
        if any(s.subject != subject.digest for s in subject.signatures):
            raise _Mismatch("evidence", f"a signature kept under {subject.digest} names "
                            "another subject")
    observed = evidence.observed
    _expect("digestVerified", record.digestVerified,
            observed.imageResolved and observed.platformMismatch is None)
    if record.tagState == "current" and record.currentTagDigest not in (None, record.digest):
        raise _Mismatch("currentTagDigest", f"tag state current, but the tag is recorded at "
                        f"{record.currentTagDigest}")


def _check_platform_child(record: ProvenanceRecord, evidence: RecordEvidence) -> None:
    """The platform digest is the child the pinned index names for the record's platform: the
    kept index must hash to the pin, and its platform child (chosen as at the first run) must be
    `platformDigest`. Otherwise signatures of any signed image could stand for the platform."""
    from clamp.oci.manifest import MAX_MANIFEST_BYTES, Manifest, Platform

    assert record.digest is not None
    if evidence.index is None:
        raise _Mismatch("platformDigest", "the pinned index is not kept, so which child its "
                        "platform names cannot be proved")
    raw = _b64(evidence.index, "index", MAX_MANIFEST_BYTES)
    pinned = _digest(record.digest)
    try:
        index = Manifest.parse(raw, content_type=None, where="evidence index",
                               algorithm=pinned.algorithm)
        child = (index.platform_child(Platform.parse(record.platform or ""))
                 if index.is_index else None)
    except (ClampError, ValueError) as exc:
        raise _Mismatch("platformDigest", f"the kept index cannot be read: {exc}") from None
    if index.digest != pinned:
        raise _Mismatch("digest", f"the kept index hashes to {index.digest}, not {pinned}")
    named = str(child.digest) if child is not None else None
    if named != record.platformDigest:
        raise _Mismatch("platformDigest", f"recorded {record.platformDigest}, the kept index "
                        f"names {named} for {record.platform}")


def _trust(evidence: RecordEvidence, roots: dict[str, TrustedRoot | str], *,
           anchored: bool) -> EntryTrust:
    policies: list[Policy] = []
    for spec in evidence.policy.trust:
        root = roots.get(spec.trustedRootSha256)
        if root is None:
            raise _Mismatch("trusted-root", f"trust {spec.name}: root {spec.trustedRootSha256} "
                            + ("is none of the --trusted-root files" if anchored
                               else "is not kept in the file"))
        if isinstance(root, str):
            raise _Mismatch("trusted-root", f"trust {spec.name}: {root}")
        try:
            keys = tuple(load_public_key(pem.encode(), where=f"trust {spec.name}")
                         for pem in spec.keys)
            identities = tuple(Identity(subject=i.subject, subject_regexp=i.subjectRegexp,
                                        issuer=i.issuer, issuer_regexp=i.issuerRegexp,
                                        claims=tuple(i.claims.items()))
                               for i in spec.identities)
            if spec.threshold is not None:
                rule = AllOf((*identities, *(Key(k) for k in keys)), threshold=spec.threshold)
                policies.append(Policy.with_root(root, rule=rule,
                                                 require_tlog=spec.requireTlog))
                continue
        except (TrustError, ClampError) as exc:
            raise _Mismatch("policy", f"trust {spec.name}: {exc}") from None
        policies.append(Policy.with_root(root, keys=keys, identities=identities,
                                         require_tlog=spec.requireTlog))
    policy = evidence.policy
    return EntryTrust(names=tuple(t.name for t in policy.trust), policies=tuple(policies),
                      attestation_types=tuple(policy.attestationTypes),
                      require_attestation=policy.requireAttestation,
                      require_signature=policy.requireSignature)


def _signature_sets(evidence: RecordEvidence) -> list[SignatureSet]:
    budget = MAX_EVIDENCE
    sets = []
    for subject in evidence.subjects:
        digest = _digest(subject.digest)
        found = SignatureSet(subject=digest, problems=list(subject.problems),
                             layer_errors=[(DigestMismatchError if e.integrity
                                            else RegistryError)(e.message)
                                           for e in subject.layerErrors])
        for item in subject.signatures:
            data = _b64(item.data, f"{item.kind} {item.index}", budget)
            budget -= len(data)
            if budget < 0:
                raise _Mismatch("evidence", f"past the bound of {MAX_EVIDENCE} bytes")
            if item.kind == "bundle":
                found.bundles.append(BundleArtifact(_digest(item.referrer or ""),
                                                    item.mediaType, data))
                continue
            layer = SignedLayer(item.index, item.mediaType, data, dict(item.annotations),
                                Digest("sha256", hashlib.sha256(data).hexdigest()))
            (found.legacy if item.kind == "sig-layer" else found.attestations).append(layer)
        sets.append(found)
    return sets


def _digest(text: str) -> Digest:
    try:
        return parse_digest(text)
    except (ClampError, ValueError):
        raise _Mismatch("evidence", f"not a digest: {text[:80]!r}") from None


def _verification(record: ProvenanceRecord, evidence: RecordEvidence,
                  trust: EntryTrust) -> ImageVerification:
    """What `verify_image` (or `_resolve_only`) would have returned, from the evidence."""
    assert record.digest is not None
    ref = Reference(Registry(""), repository=record.entry)  # shown nowhere; nothing is fetched
    observed = evidence.observed
    if observed.registryError is not None and not evidence.subjects:
        # The registry failed before any signature was read: nothing to verify again.
        error: ClampError = (DigestMismatchError if observed.integrityError
                             else RegistryError)(observed.registryError)
        result = VerificationResult(verdict="error", check="registry",
                                    reason=observed.registryError,
                                    manifest_digest=record.verification.manifest_digest)
        return ImageVerification(ref, None, result, registry_error=error)
    found = _signature_sets(evidence)
    if not trust.policies:
        return ImageVerification(ref, None, no_trust(record.digest))
    if not found:
        raise _Mismatch("evidence", "no subject was kept for a verified record")
    result, attestation, failed = judge(found, trust.policies,
                                        attestation_types=trust.attestation_types,
                                        require_attestation=trust.require_attestation,
                                        every_type=True)  # a matrix's rule (pipeline, update)
    _expect("registry error", observed.registryError, str(failed) if failed else None)
    return ImageVerification(ref, None, result, attestation, found, registry_error=failed)


def _outcome(record: ProvenanceRecord, evidence: RecordEvidence, trust: EntryTrust,
             verification: ImageVerification) -> EntryOutcome:
    assert record.digest is not None
    if record.tagState is None:
        raise _Mismatch("tagState", "missing")
    from clamp.verify.run_claims import stale_discrepancy

    if (stale := stale_discrepancy(record)) is not None:
        raise _Mismatch("stale", stale)
    tag = TagCheck(entry_id=record.entry, tag_reference=evidence.observed.tagReference,
                   pinned=_digest(record.digest),
                   current=_digest(record.currentTagDigest) if record.currentTagDigest else None,
                   state=record.tagState, stale=record.stale, age_days=record.ageDays,
                   ttl_days=record.ttlDays, error=evidence.observed.tagError)
    entry = ImageEntry.model_construct(version=record.version, os=record.os,
                                       digest=record.digest, platform=record.platform)
    return EntryOutcome(entry, trust, verification, tag, evidence.observed.platformMismatch)


def _derived(record: ProvenanceRecord, evidence: RecordEvidence,
             result: VerificationResult) -> None:
    """The record's summary fields, as `clamp.verify.run.record_of` derives them."""
    status = "error" if evidence.observed.registryError is not None else {
        "verified": "valid"}.get(result.verdict, result.verdict)
    _expect("trustStatus", record.trustStatus, status)
    signer = result.signer if result.ok else None
    _expect("issuer", record.issuer, signer.issuer if signer else None)
    _expect("identity", record.identity, signer.identity if signer else None)
    _expect("keyFingerprint", record.keyFingerprint, signer.key_fingerprint if signer else None)
    _expect("timestamp.time", record.timestamp.time, result.integrated_time if result.ok
            else None)
    _expect("timestamp.source", record.timestamp.source,
            TIME_SOURCES.get(result.time_source) if result.ok else None)
    _expect("logIndex", record.logIndex, result.log_index if result.ok else None)
    _expect("logId", record.logId, result.log_id if result.ok else None)
    _expect("signatureKind", record.signatureKind, result.signature_kind if result.ok else None)
