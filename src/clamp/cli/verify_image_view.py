"""`clamp verify --image`: run one image verification and present it (human or JSON)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from clamp.exitcodes import ExitCode

if TYPE_CHECKING:
    from clamp.trust.policy import Policy
    from clamp.trust.result import VerificationResult
    from clamp.verify.image import ImageVerification

VERDICT_EXIT = {"verified": ExitCode.OK, "unsigned": ExitCode.UNSIGNED,
                "invalid": ExitCode.SIGNATURE_FAILED,
                "identity_mismatch": ExitCode.IDENTITY_MISMATCH,
                "error": ExitCode.REGISTRY_ERROR}


def run_verify_image(image: str, policy: Policy, *, platform: str | None,
                     attestation_types: tuple[str, ...], as_json: bool,
                     insecure: list[str]) -> int:
    from clamp.cli.common import client_options, print_json
    from clamp.cli.output import error, info
    from clamp.errors import BadInputError
    from clamp.oci.manifest import Platform
    from clamp.oci.store import Stores, parse_image_ref
    from clamp.verify.image import verify_image

    ref = parse_image_ref(image, where="--image")
    try:
        plat = Platform.parse(platform) if platform else None
    except ValueError as exc:
        raise BadInputError(str(exc), where="--platform") from None

    async def run() -> ImageVerification:
        async with Stores(client_options(insecure, registries={ref.registry})) as stores:
            return await verify_image(stores.open(ref), ref, [policy], platform=plat,
                                      attestation_types=attestation_types,
                                      require_attestation=bool(attestation_types))

    outcome = asyncio.run(run())
    if as_json:
        print_json(verification_json(outcome))
    result = outcome.result
    worst = result if not result.ok or outcome.attestation is None else outcome.attestation
    if worst.ok:
        if not as_json:
            info(f"verified: {describe(outcome)}")
        return ExitCode.OK
    if outcome.registry_error is not None:
        error(str(outcome.registry_error))
        return int(outcome.registry_error.exit_code)
    error(f"{ref}: {worst.verdict}: check {worst.check} failed: {worst.reason}")
    return VERDICT_EXIT.get(worst.verdict, ExitCode.SIGNATURE_FAILED)


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
