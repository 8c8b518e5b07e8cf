"""Self-contained provenance: the material each record was verified with, kept in the record.

A record's `evidence` holds everything `clamp provenance verify` needs to decide the record again
offline, with no registry: every signature-like object the registry returned for the image (the
`.sig`/`.att` layer bytes with their annotations — signature, certificate and chain, Rekor bundle
with the SET, RFC 3161 timestamp — and the sigstore bundle bytes of each referrer), the policy the
matrix applied (keys as PEM, identities as applied, tlog rule, the trusted root by digest, mode,
attestation rules) with its digest, and what the registry said that cannot be proved later (tag
state, a registry or integrity error). The trusted roots themselves are kept once per file, by
digest, in the document's `roots`.

Bounded: at most `MAX_EVIDENCE` bytes of signature material per record. Past the bound nothing
is embedded and `omitted` says so; such a record cannot be re-verified and `provenance verify`
reports it as not reproduced (fail closed), never as consistent.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Literal, TypeVar

import rfc8785
from pydantic import BaseModel, ConfigDict, Field

from clamp.errors import DigestMismatchError
from clamp.factories import empty_list

if TYPE_CHECKING:  # the models stay as light to import as the provenance models that hold them
    from clamp.signed.locate import SignatureSet
    from clamp.trust.policy import Policy
    from clamp.verify.decision import EntryDecision
    from clamp.verify.pipeline import EntryOutcome
    from clamp.verify.policy import EntryTrust

MAX_EVIDENCE = 2 * 1024 * 1024  # signature material kept per record (bytes, before base64)
MAX_ROOT_BYTES = 4 * 1024 * 1024  # one trusted root (clamp.trust.root.MAX_ROOT)
#: The pinned index kept beside a platform record (a real index is a few KB; distribution's
#: bound is 4 MiB). Past it nothing is kept and the platform child cannot be proved.
MAX_INDEX_BYTES = 1024 * 1024
EMBEDDED_ROOT = "embedded:sigstore-public-good"
_R = TypeVar("_R", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignatureEvidence(_Model):
    """One object the registry returned for a subject digest, byte for byte (base64)."""

    subject: str = Field(description="the manifest digest it was found for")
    kind: Literal["sig-layer", "att-layer", "bundle"]
    index: int = Field(description="position among the subject's objects of this kind")
    mediaType: str
    data: str = Field(description="base64 of the layer payload or the bundle JSON")
    annotations: dict[str, str] = Field(
        description="layer annotations: signature, certificate, chain, Rekor bundle (SET), "
                    "RFC 3161 timestamp; empty for bundles")
    referrer: str | None = Field(description="the bundle's referrer manifest digest")


class LayerError(_Model):
    message: str
    integrity: bool = Field(description="the bytes did not hash to their digest")


class SubjectEvidence(_Model):
    """What was looked up for one digest (the image's, then its platform manifest's)."""

    digest: str
    problems: list[str] = Field(description="what the registry returned that could not be read")
    layerErrors: list[LayerError] = Field(
        default_factory=empty_list, description="signature layers or referrers the registry "
                                               "served wrongly (skipped, never trusted)")
    signatures: list[SignatureEvidence]


class IdentityEvidence(_Model):
    subject: str | None
    subjectRegexp: str | None = Field(description="as applied (anchored by clamp)")
    issuer: str | None
    issuerRegexp: str | None
    claims: dict[str, str] = Field(default_factory=dict, description="build claims required "
                                   "(clamp.trust.claims names), each compared exactly")


class TrustEvidence(_Model):
    """One trust entry of the matrix, as the verifier applied it."""

    name: str
    keys: list[str] = Field(description="trusted public keys, PEM")
    identities: list[IdentityEvidence]
    requireTlog: bool
    trustedRootSha256: str = Field(description="key into the document's roots")
    threshold: int | None = Field(None, description="at least this many of the identities "
                                  "and keys (in that order), each by its own signature; "
                                  "null: any one")


class PolicyEvidence(_Model):
    """The matrix policy that decided the record: its digest is `policySha256`."""

    mode: Literal["strict", "warn", "auto_update"]
    trust: list[TrustEvidence]
    attestationTypes: list[str]
    requireAttestation: bool
    requireSignature: bool


class Observations(_Model):
    """What the registry said that no signature proves; kept as observed, used to re-derive the
    decision."""

    imageResolved: bool = Field(description="the pinned manifest (and platform) was fetched and "
                                            "hashed to the pin")
    registryError: str | None
    integrityError: bool = Field(description="the registry error was a digest mismatch")
    platformMismatch: str | None
    tagError: str | None
    tagReference: str = Field(description="the tag as it was looked up")


class RecordEvidence(_Model):
    policy: PolicyEvidence
    policySha256: str = Field(description="sha256 of the RFC 8785 canonical JSON of `policy`")
    observed: Observations
    subjects: list[SubjectEvidence]
    embeddedBytes: int = Field(description="signature material kept, bytes before base64")
    omitted: str | None = Field(description="why the material is not embedded (past the bound)")
    index: str | None = Field(None, description="base64 of the pinned index's bytes when a "
                              "platform manifest was verified: they hash to the digest and "
                              "name the platform's child, so which child was judged is proved, "
                              "not taken as recorded")


class EmbeddedRoot(_Model):
    sha256: str
    source: str = Field(description="file path, or 'embedded:sigstore-public-good'")
    data: str = Field(description="base64 of the trusted root file's bytes")


def policy_digest(policy: PolicyEvidence) -> str:
    return hashlib.sha256(rfc8785.dumps(policy.model_dump(mode="json"))).hexdigest()


class RootCollector:
    """Reads each trusted root once per run, keyed by the digest of its bytes."""

    def __init__(self) -> None:
        self.by_source: dict[str, str] = {}
        self.roots: dict[str, EmbeddedRoot] = {}

    def digest_of(self, policy: Policy) -> str:
        source = policy.trusted_root_path or EMBEDDED_ROOT
        if source not in self.by_source:
            from clamp.verify.policy import parsed_bytes

            # The bytes that were parsed to verify, when clamp read them (a matrix's trust
            # entry); a second read could record a file swapped in between.
            kept = parsed_bytes(policy.trusted_root) if policy.trusted_root_path else None
            data = kept if kept is not None else _root_bytes(policy.trusted_root_path)
            sha = hashlib.sha256(data).hexdigest()
            self.by_source[source] = sha
            self.roots.setdefault(sha, EmbeddedRoot(sha256=sha, source=source,
                                                    data=base64.b64encode(data).decode()))
        return self.by_source[source]


def _root_bytes(path: str | None) -> bytes:
    if path is None:
        return resources.files("clamp.data").joinpath("trusted_root.json").read_bytes()
    from clamp.errors import BadInputError
    from clamp.files import read_at_most

    try:  # it was read moments ago to verify; gone now means someone is changing it under us
        return read_at_most(path, MAX_ROOT_BYTES)
    except OSError as exc:
        raise BadInputError(f"cannot read the trusted root again to keep it: {exc.strerror}",
                            where=path) from None


def policy_of(outcome: EntryOutcome, decision: EntryDecision,
              roots: RootCollector) -> PolicyEvidence:
    return policy_evidence(outcome.trust, decision.mode, roots)


def policy_evidence(trust: EntryTrust, mode: Literal["strict", "warn", "auto_update"],
                    roots: RootCollector) -> PolicyEvidence:
    """The policy an entry is verified with, as a record keeps it: the one form both the run
    (`policy_of`) and an auditor's anchoring of a file to its matrix build it in."""
    from clamp.trust.policy import AllOf

    return PolicyEvidence(
        mode=mode,
        trust=[TrustEvidence(
            name=name, keys=[k.pem.decode() for k in policy.keys],
            identities=[IdentityEvidence(subject=i.subject, subjectRegexp=i.subject_regexp,
                                         issuer=i.issuer, issuerRegexp=i.issuer_regexp,
                                         claims=dict(i.claims))
                        for i in policy.identities],
            requireTlog=policy.require_tlog, trustedRootSha256=roots.digest_of(policy),
            threshold=policy.rule.threshold if isinstance(policy.rule, AllOf) else None)
            for name, policy in zip(trust.names, trust.policies, strict=True)],
        attestationTypes=list(trust.attestation_types),
        requireAttestation=trust.require_attestation,
        requireSignature=trust.require_signature)


def subjects_of(found: Sequence[SignatureSet]) -> list[SubjectEvidence]:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    out = []
    for sigs in found:
        items = [SignatureEvidence(subject=str(sigs.subject), kind=kind, index=n,
                                   mediaType=layer.media_type, data=b64(layer.payload),
                                   annotations=dict(layer.annotations), referrer=None)
                 for kind, layers in (("sig-layer", sigs.legacy), ("att-layer", sigs.attestations))
                 for n, layer in enumerate(layers)]
        items += [SignatureEvidence(subject=str(sigs.subject), kind="bundle", index=n,
                                    mediaType=b.media_type, data=b64(b.bundle), annotations={},
                                    referrer=str(b.referrer)) for n, b in enumerate(sigs.bundles)]
        errors = [LayerError(message=str(e), integrity=isinstance(e, DigestMismatchError))
                  for e in sigs.layer_errors]
        out.append(SubjectEvidence(digest=str(sigs.subject), problems=list(sigs.problems),
                                   layerErrors=errors, signatures=items))
    return out


def _size(subjects: Sequence[SubjectEvidence]) -> int:
    return sum(len(s.data) * 3 // 4 + sum(len(k) + len(v) for k, v in s.annotations.items())
               for subject in subjects for s in subject.signatures)


def evidence_of(outcome: EntryOutcome, decision: EntryDecision,
                roots: RootCollector, *, bound: int | None = None) -> RecordEvidence:
    bound = MAX_EVIDENCE if bound is None else bound
    verification = outcome.verification
    policy = policy_of(outcome, decision, roots)
    subjects = subjects_of(verification.found)
    size, omitted = _size(subjects), None
    if size > bound:
        omitted = (f"{size} bytes of signature material is past the bound of {bound} bytes; "
                   "not embedded, so this record cannot be re-verified offline")
        subjects = [s.model_copy(update={"signatures": []}) for s in subjects]
    error = verification.registry_error
    image = verification.image
    index = (base64.b64encode(image.manifest.raw).decode()
             if image is not None and image.platform_manifest is not None
             and len(image.manifest.raw) <= MAX_INDEX_BYTES else None)
    return RecordEvidence(
        policy=policy, policySha256=policy_digest(policy),
        observed=Observations(imageResolved=verification.image is not None,
                              registryError=str(error) if error is not None else None,
                              integrityError=isinstance(error, DigestMismatchError),
                              platformMismatch=outcome.platform_mismatch,
                              tagError=outcome.tag.error,
                              tagReference=outcome.tag.tag_reference),
        subjects=subjects, embeddedBytes=0 if omitted else size, omitted=omitted, index=index)


def attach(records: list[_R], outcomes: Sequence[EntryOutcome],
           decisions: Sequence[EntryDecision]) -> tuple[list[_R], list[EmbeddedRoot]]:
    """The records with their evidence, and the trusted roots they name (once each)."""
    roots = RootCollector()
    out = [r.model_copy(update={"evidence": evidence_of(o, d, roots)})
           for r, o, d in zip(records, outcomes, decisions, strict=True)]
    return out, sorted(roots.roots.values(), key=lambda r: r.sha256)
