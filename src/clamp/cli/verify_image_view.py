"""`clamp verify IMAGE...`: verify each image and present it (one line each, or JSON)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from clamp.cli.aio import run as run_async
from clamp.exitcodes import ExitCode, for_error, for_verdict
from clamp.signed.image import verify_image

if TYPE_CHECKING:
    from clamp.oci.reference import Reference
    from clamp.signed.image import ImageVerification
    from clamp.trust.policy import Policy
    from clamp.trust.result import VerificationResult


def run_verify_images(images: list[str], policy: Policy, *, platform: str | None,
                      attestation_types: tuple[str, ...], as_json: bool, insecure: list[str],
                      concurrency: int = 16) -> int:
    """Verify every image (at most `concurrency` at once); one line each; the run fails if any
    image fails, with the first failing image's code (in the order given)."""
    from clamp.cli.common import client_options, print_json
    from clamp.errors import BadInputError
    from clamp.oci.manifest import Platform
    from clamp.oci.store import Stores, parse_image_ref

    refs = [parse_image_ref(image, where="--image" if len(images) == 1 else image)
            for image in images]  # every reference is checked before any registry is asked
    try:
        plat = Platform.parse(platform) if platform else None
    except ValueError as exc:
        raise BadInputError(str(exc), where="--platform") from None

    async def run() -> list[ImageVerification]:
        gate = asyncio.Semaphore(concurrency)
        options = client_options(insecure, concurrency, registries={r.location for r in refs})
        async with Stores(options) as stores:
            async def one(ref: Reference) -> ImageVerification:
                async with gate:
                    return await verify_image(stores.open(ref), ref, [policy], platform=plat,
                                              attestation_types=attestation_types,
                                              require_attestation=bool(attestation_types))

            return list(await asyncio.gather(*(one(ref) for ref in refs)))

    outcomes = run_async(run())
    if as_json:
        documents = [verification_json(outcome) for outcome in outcomes]
        print_json(documents[0] if len(documents) == 1 else documents)
    codes = [report(outcome, quiet=as_json) for outcome in outcomes]
    return next((code for code in codes if code != ExitCode.OK), int(ExitCode.OK))


def report(outcome: ImageVerification, *, quiet: bool) -> int:
    """One line on stderr for one image (`verified: ...` unless `quiet`, or the error), and
    its exit code."""
    from clamp.cli.output import error, info

    result = outcome.result
    worst = result if not result.ok or outcome.attestation is None else outcome.attestation
    if worst.ok:
        if not quiet:
            info(f"verified: {describe(outcome)}")
        return int(ExitCode.OK)
    if outcome.registry_error is not None:
        # The error usually names where it happened, which is this image (or a part of it):
        # the reference is prefixed only when it does not already begin the line.
        message, reference = str(outcome.registry_error), str(outcome.reference)
        error(message if message.startswith(reference) else f"{reference}: {message}")
        return int(for_error(outcome.registry_error))
    error(f"{outcome.reference}: {worst.verdict}: check {worst.check} failed: {worst.reason}")
    return int(for_verdict(worst.verdict))


def describe(outcome: ImageVerification) -> str:
    result = outcome.result
    digest = result.manifest_digest or (str(outcome.image.digest) if outcome.image else "?")
    name = outcome.reference.with_digest(outcome.image.digest) if outcome.image else \
        outcome.reference
    return f"{name} ({digest}) signed by {signer_text(result)}" + _when(result)


def signer_text(result: VerificationResult) -> str:
    signer = result.signer
    if signer is None:
        return "?"
    if signer.identity:
        return f"{signer.identity} (issuer {signer.issuer})"
    return f"key sha256:{signer.key_fingerprint}"


def _when(result: VerificationResult) -> str:
    if result.integrated_time is None:
        return ", no transparency-log entry"
    where = f", log index {result.log_index}" if result.log_index is not None else ""
    return f", at {result.integrated_time.isoformat()} ({result.time_source}{where})"


def verification_json(outcome: ImageVerification) -> dict[str, Any]:
    image = outcome.image
    return {
        "reference": str(outcome.reference),
        "digest": str(image.digest) if image else None,
        "mediaType": image.manifest.media_type if image else None,
        "platform": str(image.platform) if image and image.platform else None,
        "platformDigest": str(image.platform_digest) if image and image.platform_digest
        else None,
        "verified": outcome.ok,
        "result": outcome.result.model_dump(mode="json"),
        "attestation": outcome.attestation.model_dump(mode="json") if outcome.attestation
        else None,
        "found": [{"subject": str(s.subject), "legacySignatures": len(s.legacy),
                   "attestations": len(s.attestations), "bundles": len(s.bundles),
                   "problems": s.problems} for s in outcome.found],
    }
