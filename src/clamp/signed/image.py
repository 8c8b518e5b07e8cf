"""Verify one image: hash what the registry sends, find its signatures, check them.

The glue between `clamp.oci` (bytes and where they live) and `clamp.trust` (what they prove).
Signatures are looked for on the digest that was resolved and, for a multi-arch image pinned to
a platform, on the platform manifest too (cosign signs whichever digest it was given).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from clamp.errors import ClampError
from clamp.oci.manifest import Manifest, Platform
from clamp.oci.reference import Reference
from clamp.oci.resolve import ResolvedImage, resolve
from clamp.oci.store import ImageStore
from clamp.signed.locate import BundleArtifact, SignatureSet, SignedLayer, fetch_signatures
from clamp.trust.errors import TrustError, UnsignedError
from clamp.trust.policy import Policy
from clamp.trust.result import VerificationResult, failure

if TYPE_CHECKING:
    from clamp.trust.cosign_legacy import LegacyLayer
    from clamp.trust.kinds import Kind

# When nothing verifies, report the closest miss: a signer we do not trust says more than a
# broken signature, which says more than no signature at all.
_SEVERITY = {"identity_mismatch": 3, "invalid": 2, "error": 1, "unsigned": 0}
# Within one verdict, a policy of the wrong kind for the signature (a keyless policy meeting a
# key-signed layer) says less than a policy that applied and found the signature bad.
_LESS_TELLING = frozenset({"verification-material"})


def _closest(misses: Sequence[VerificationResult]) -> VerificationResult:
    return max(misses, key=lambda r: (_SEVERITY.get(r.verdict, 0),
                                      r.check not in _LESS_TELLING))


@dataclass
class ImageVerification:
    """The outcome for one image: what was resolved, what was found, and the verdict."""

    reference: Reference
    image: ResolvedImage | None
    result: VerificationResult
    attestation: VerificationResult | None = None
    found: list[SignatureSet] = field(default_factory=list)
    registry_error: ClampError | None = None

    @property
    def ok(self) -> bool:
        return self.result.ok and (self.attestation is None or self.attestation.ok)


async def verify_image(store: ImageStore, ref: Reference, policies: Sequence[Policy], *,
                       platform: Platform | None = None,
                       attestation_types: tuple[str, ...] = (),
                       require_attestation: bool = False,
                       every_type: bool = False,
                       prefetched: Manifest | None = None) -> ImageVerification:
    """Resolve `ref` (by its digest when it has one) and verify it against any of `policies`.

    Registry failures become an `error` verdict with the reason (never `unsigned`): not being
    able to look is not evidence of absence. `every_type`: each of `attestation_types` needs its
    own verified attestation (a matrix's rule), not any one of them (cosign's flag).
    """
    try:
        image = await resolve(store, ref, platform, prefetched=prefetched)
    except ClampError as exc:
        return ImageVerification(ref, None, _error(exc), registry_error=exc)
    subjects = [image.digest] + ([image.platform_digest] if image.platform_digest else [])
    want_att = require_attestation or bool(attestation_types)
    try:
        found = list(await asyncio.gather(
            *(fetch_signatures(store, ref.repository, s, attestations=want_att)
              for s in subjects)))
    except ClampError as exc:
        return ImageVerification(ref, image, _error(exc, manifest_digest=str(image.digest)),
                                 registry_error=exc)
    result, attestation, error = judge(found, policies, attestation_types=attestation_types,
                                       require_attestation=require_attestation,
                                       every_type=every_type)
    return ImageVerification(ref, image, result, attestation, found, registry_error=error)


def judge(found: Sequence[SignatureSet], policies: Sequence[Policy], *,
          attestation_types: tuple[str, ...], require_attestation: bool, every_type: bool
          ) -> tuple[VerificationResult, VerificationResult | None, ClampError | None]:
    """What the signatures found prove under `policies`: (signature result, attestation result,
    the registry error to report instead). No registry is asked, so `clamp provenance verify`
    replays it from a record's evidence."""
    result = check_signatures(found, policies)
    layer_errors = [e for sigs in found for e in sigs.layer_errors]
    if not result.ok and result.verdict == "unsigned" and layer_errors:
        # Nothing else to judge by, and the registry served a layer wrongly: that is what to
        # report (fail closed, as an error of the registry), not "unsigned".
        error = layer_errors[0]
        return _error(error, manifest_digest=str(found[0].subject)), None, error
    attestation = None
    if require_attestation or attestation_types:
        attestation = check_attestations(found, policies, attestation_types,
                                         every_type=every_type)
        if not require_attestation and attestation.verdict == "unsigned":
            attestation = None
    return result, attestation, None


def check_signatures(found: Sequence[SignatureSet],
                     policies: Sequence[Policy]) -> VerificationResult:
    """The first verified signature among `.sig` layers and bundles, else the closest miss.

    Only simple-signing layers and cosign-sign bundles are signatures (`clamp.trust.kinds`): an
    attestation, whoever signed it and wherever it was stored, never is.
    """
    from clamp.trust.mediatypes import COSIGN_SIGN_PREDICATE

    misses: list[VerificationResult] = []
    attestation_bundles = 0
    for sigs in found:
        bundles, attested = _split_bundles(sigs)
        attestation_bundles += len(attested)
        verified = _first_verified(str(sigs.subject), _layers(sigs.legacy), bundles, policies,
                                   misses, role="signature", layer_predicates=(),
                                   bundle_predicates=(COSIGN_SIGN_PREDICATE,))
        if verified is not None:
            return verified
    problems = "; ".join(p for sigs in found for p in sigs.problems)
    if not misses:
        looked = ", ".join(f"{s.subject.tag_form}.sig and signature referrers" for s in found)
        reason = f"no signature found (looked for {looked})" + (f"; {problems}" if problems else "")
        if attestation_bundles:
            reason += (f"; {attestation_bundles} attestation bundle(s) found, which are not "
                       "signatures")
        return failure(UnsignedError("signature", reason),
                       manifest_digest=str(found[0].subject) if found else None)
    return _with_problems(_closest(misses), problems)


def _with_problems(result: VerificationResult, problems: str) -> VerificationResult:
    """The closest miss, saying also what could not be read (a layer that failed its digest)."""
    if not problems:
        return result
    return result.model_copy(update={"reason": f"{result.reason}; also: {problems}"[:2000]})


def _layers(signed: Sequence[SignedLayer]) -> list[LegacyLayer]:
    from clamp.trust.cosign_legacy import LegacyLayer

    return [LegacyLayer(s.payload, s.annotations, s.media_type) for s in signed]


def _split_bundles(sigs: SignatureSet) -> tuple[list[tuple[int, BundleArtifact]],
                                                list[tuple[int, BundleArtifact, str]]]:
    """(signature bundles, attestation bundles with their predicate type), by position, as
    `clamp.trust.kinds.bundle_kind` sorts them."""
    from clamp.trust.kinds import bundle_kind

    signatures: list[tuple[int, BundleArtifact]] = []
    attestations: list[tuple[int, BundleArtifact, str]] = []
    for n, bundle in enumerate(sigs.bundles):
        kind, predicate = bundle_kind(bundle.bundle)
        if kind == "attestation" and predicate is not None:
            attestations.append((n, bundle, predicate))
        else:
            signatures.append((n, bundle))
    return signatures, attestations


def check_attestations(found: Sequence[SignatureSet], policies: Sequence[Policy],
                       predicate_types: tuple[str, ...], *,
                       every_type: bool = False) -> VerificationResult:
    """Verify `.att` DSSE layers and DSSE bundle referrers (subject must be the image digest,
    predicate type one of `predicate_types`, or any attestation's when none is named).

    `every_type` (a matrix's trust entries listing types): each type named needs its own
    verified attestation; the first type without one is the verdict. Without it (cosign's
    repeatable `--attestation-type`), any one will do."""
    if every_type and len(predicate_types) > 1:
        verified: VerificationResult | None = None
        for wanted in predicate_types:
            result = _check_attestations(found, policies, (wanted,))
            if not result.ok:
                return result.model_copy(update={
                    "reason": f"no verified attestation of {wanted}: {result.reason}"[:2000]})
            verified = verified or result
        assert verified is not None
        return verified.model_copy(update={"predicate_types": list(predicate_types)})
    return _check_attestations(found, policies, predicate_types)


def _check_attestations(found: Sequence[SignatureSet], policies: Sequence[Policy],
                        predicate_types: tuple[str, ...]) -> VerificationResult:
    from clamp.trust.kinds import accepts_attestation

    misses: list[VerificationResult] = []
    for sigs in found:
        _, attested = _split_bundles(sigs)
        # New-format attestations are DSSE bundles stored as referrers (`cosign attest
        # --new-bundle-format`, GitHub's attest-build-provenance with push-to-registry).
        bundles = [(n, b) for n, b, predicate in attested
                   if accepts_attestation(predicate, predicate_types)]
        verified = _first_verified(str(sigs.subject), _layers(sigs.attestations), bundles,
                                   policies, misses, role="attestation",
                                   layer_predicates=predicate_types,
                                   bundle_predicates=predicate_types)
        if verified is not None:
            return verified
    if not misses:
        return failure(UnsignedError("attestation", "no attestation found (.att or bundle "
                                     "referrers with the required predicate type)"))
    return _closest(misses)


def _first_verified(digest: str, layers: Sequence[LegacyLayer],
                    bundles: Sequence[tuple[int, BundleArtifact]], policies: Sequence[Policy],
                    misses: list[VerificationResult], *, role: Kind,
                    layer_predicates: tuple[str, ...],
                    bundle_predicates: tuple[str, ...]) -> VerificationResult | None:
    """Each policy against the `.sig`/`.att` layers, then against each bundle: the first result
    that verifies, or None with every miss appended to `misses`."""
    from clamp.trust.bundle import Artifact, verify_bundle
    from clamp.trust.cosign_legacy import verify_legacy_layers

    for policy in policies:
        if not policy.single_signature:
            attempts = [partial(_attempt, partial(verify_legacy_layers, [layer], digest, policy,
                                                  role=role, predicate_types=layer_predicates),
                                manifest_digest=digest, layer_index=n)
                        for n, layer in enumerate(layers)]
        else:
            attempts = [partial(_attempt, partial(verify_legacy_layers, layers, digest, policy,
                                                  role=role, predicate_types=layer_predicates),
                                manifest_digest=digest)] if layers else []
        attempts += [partial(_attempt, partial(verify_bundle, bundle.bundle,
                                               Artifact.from_digest(digest), policy,
                                               subject_digest=digest,
                                               predicate_types=bundle_predicates),
                             manifest_digest=digest, layer_index=n) for n, bundle in bundles]
        if not policy.single_signature:
            outcome = _composed(policy, [attempt() for attempt in attempts], misses, digest)
            if outcome is not None:
                return outcome
            continue
        for attempt in attempts:
            outcome = attempt()
            if outcome.ok:
                return outcome
            misses.append(outcome)
    return None


def _composed(policy: Policy, outcomes: list[VerificationResult],
              misses: list[VerificationResult], digest: str) -> VerificationResult | None:
    """A policy needing several signatures (an all-of with a threshold): judged over every
    signature that verified (`clamp.trust.rules`). Satisfied: the first signature counted.
    Not: the failures, and why the verified ones are not enough, go to `misses`."""
    from clamp.trust.rules import PolicyUnmetError, satisfy

    verified = [o for o in outcomes if o.ok]
    rule = policy.effective_rule
    assert rule is not None  # a policy trusting nobody is single-signature
    try:
        used = satisfy(rule, verified)
    except PolicyUnmetError as exc:
        if verified:  # before the signatures' own misses: the closest miss, of equal rank
            misses.append(failure(exc, manifest_digest=digest))
        misses.extend(o for o in outcomes if not o.ok)
        return None
    return verified[used[0]]


def _attempt(run: Callable[[], VerificationResult], **extra: object) -> VerificationResult:
    try:
        result = run()
    except TrustError as exc:
        return failure(exc, **extra)
    except ClampError as exc:
        return _error(exc, **extra)
    return result


def _error(exc: ClampError, **extra: object) -> VerificationResult:
    return VerificationResult.model_validate(
        {"verdict": "error", "check": "registry", "reason": str(exc), **extra})
