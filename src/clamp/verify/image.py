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
from clamp.oci.signatures import BundleArtifact, SignatureSet, fetch_signatures
from clamp.oci.store import ImageStore
from clamp.trust.errors import TrustError, UnsignedError
from clamp.trust.policy import Policy
from clamp.trust.result import VerificationResult, failure

if TYPE_CHECKING:
    from clamp.trust.cosign_legacy import LegacyLayer

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
                       prefetched: Manifest | None = None) -> ImageVerification:
    """Resolve `ref` (by its digest when it has one) and verify it against any of `policies`.

    Registry failures become an `error` verdict with the reason (never `unsigned`): not being
    able to look is not evidence of absence.
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
    result = check_signatures(found, policies)
    attestation = None
    if require_attestation or attestation_types:
        attestation = check_attestations(found, policies, attestation_types)
        if not require_attestation and attestation.verdict == "unsigned":
            attestation = None
    return ImageVerification(ref, image, result, attestation, found)


def check_signatures(found: Sequence[SignatureSet],
                     policies: Sequence[Policy]) -> VerificationResult:
    """The first verified signature among legacy layers and bundles, else the closest miss."""
    from clamp.trust.cosign_legacy import LegacyLayer
    from clamp.trust.dsse import COSIGN_SIGN_PREDICATE

    misses: list[VerificationResult] = []
    attestation_bundles = 0
    for sigs in found:
        layers = [LegacyLayer(s.payload, s.annotations, s.media_type) for s in sigs.legacy]
        bundles, attested = _split_bundles(sigs)
        attestation_bundles += len(attested)
        verified = _first_verified(str(sigs.subject), layers, bundles, policies, misses,
                                   layer_predicates=(),
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
    return _closest(misses)


def _split_bundles(sigs: SignatureSet) -> tuple[list[tuple[int, BundleArtifact]],
                                                list[tuple[int, BundleArtifact, str]]]:
    """(signature bundles, attestation bundles with their predicate type), by position.

    cosign's sign predicate only makes a signature: an attestation bundle (SLSA provenance,
    SBOM...) stored beside the image is evidence about it, not a signature of it, whoever signed
    it. A bundle that is not DSSE (a message signature) or does not parse is a signature
    candidate, and verification says what is wrong with it.
    """
    from clamp.trust.dsse import COSIGN_SIGN_PREDICATE

    signatures: list[tuple[int, BundleArtifact]] = []
    attestations: list[tuple[int, BundleArtifact, str]] = []
    for n, bundle in enumerate(sigs.bundles):
        predicate = bundle_predicate(bundle.bundle)
        if predicate is None or predicate == COSIGN_SIGN_PREDICATE:
            signatures.append((n, bundle))
        else:
            attestations.append((n, bundle, predicate))
    return signatures, attestations


def bundle_predicate(raw: bytes) -> str | None:
    """The predicate type a DSSE bundle's statement claims, read without verifying anything:
    it only sorts bundles into signatures and attestations before each is verified in full.
    None for message-signature bundles and for anything that does not parse (verification then
    reports what is wrong with it)."""
    import base64
    import binascii
    import json

    try:
        doc = json.loads(raw)
        payload = base64.b64decode(doc["dsseEnvelope"]["payload"], validate=True)
        predicate = json.loads(payload).get("predicateType")
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, RecursionError):
        return None
    return predicate if isinstance(predicate, str) else None


def check_attestations(found: Sequence[SignatureSet], policies: Sequence[Policy],
                       predicate_types: tuple[str, ...]) -> VerificationResult:
    """Verify `.att` DSSE layers and DSSE bundle referrers (subject must be the image digest,
    predicate type filtered)."""
    from clamp.trust.cosign_legacy import LegacyLayer

    misses: list[VerificationResult] = []
    for sigs in found:
        layers = [LegacyLayer(s.payload, s.annotations, s.media_type) for s in sigs.attestations]
        _, attested = _split_bundles(sigs)
        # New-format attestations are DSSE bundles stored as referrers (`cosign attest
        # --new-bundle-format`, GitHub's attest-build-provenance with push-to-registry). With no
        # type asked for, any attestation will do.
        bundles = [(n, b) for n, b, predicate in attested
                   if not predicate_types or predicate in predicate_types]
        verified = _first_verified(str(sigs.subject), layers, bundles, policies, misses,
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
                    misses: list[VerificationResult], *, layer_predicates: tuple[str, ...],
                    bundle_predicates: tuple[str, ...]) -> VerificationResult | None:
    """Each policy against the `.sig`/`.att` layers, then against each bundle: the first result
    that verifies, or None with every miss appended to `misses`."""
    from clamp.trust.bundle import Artifact, verify_bundle
    from clamp.trust.cosign_legacy import verify_legacy_layers

    for policy in policies:
        attempts = [partial(_attempt, partial(verify_legacy_layers, layers, digest, policy,
                                              predicate_types=layer_predicates),
                            manifest_digest=digest)] if layers else []
        attempts += [partial(_attempt, partial(verify_bundle, bundle.bundle,
                                               Artifact.from_digest(digest), policy,
                                               subject_digest=digest,
                                               predicate_types=bundle_predicates),
                             manifest_digest=digest, layer_index=n) for n, bundle in bundles]
        for attempt in attempts:
            outcome = attempt()
            if outcome.ok:
                return outcome
            misses.append(outcome)
    return None


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
