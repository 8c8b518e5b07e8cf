"""Verify every pinned entry of a matrix: integrity, signatures, tag drift and staleness.

Entries run concurrently (bounded); each entry's image fetch, signature lookups and tag check run
concurrently too, so the whole matrix costs about one entry's round trips. One entry's failure
never stops the others: each outcome carries its own evidence or error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from clamp.digest import parse_digest
from clamp.errors import ClampError, RegistryError
from clamp.matrix import ImageEntry, LoadedMatrix
from clamp.oci.manifest import Manifest, Platform
from clamp.oci.reference import Reference
from clamp.oci.resolve import resolve
from clamp.oci.store import ImageStore, Stores
from clamp.signed.image import ImageVerification, verify_image
from clamp.trust.result import VerificationResult
from clamp.verify.policy import EntryTrust, PolicyCache
from clamp.verify.tags import TagCheck, entry_reference, fetch_tag


@dataclass(frozen=True)
class EntryOutcome:
    entry: ImageEntry
    trust: EntryTrust
    verification: ImageVerification
    tag: TagCheck
    platform_mismatch: str | None  # the platform manifest is not the pinned one


async def verify_entries(stores: Stores, loaded: LoadedMatrix, entries: Sequence[ImageEntry], *,
                         concurrency: int = 16, today: date | None = None,
                         on_done: Callable[[EntryOutcome], None] | None = None
                         ) -> list[EntryOutcome]:
    """Verify `entries` (pinned ones only) and return outcomes in the same order."""
    cache = PolicyCache(loaded)
    trusts = {entry.id: cache.for_entry(entry) for entry in entries}  # bad keys fail up front
    day = today or date.today()
    gate = asyncio.Semaphore(concurrency)

    async def one(entry: ImageEntry) -> EntryOutcome:
        async with gate:
            outcome = await _verify_entry(stores, loaded, entry, trusts[entry.id], day)
        if on_done is not None:
            on_done(outcome)
        return outcome

    return list(await asyncio.gather(*(one(e) for e in entries)))


async def _verify_entry(stores: Stores, loaded: LoadedMatrix, entry: ImageEntry,
                        trust: EntryTrust, today: date) -> EntryOutcome:
    assert entry.digest is not None
    tag_ref = entry_reference(loaded, entry)
    pinned = tag_ref.with_digest(parse_digest(entry.digest))  # keeps the tag for display
    platform = Platform.parse(entry.platform) if entry.platform else None
    store = stores.open(tag_ref)
    # The tag is fetched first: when it still names the pin (the usual case), its bytes are the
    # pinned manifest, hashed, and verification goes on from them without another request.
    tag, by_tag = await fetch_tag(stores, loaded, entry, today)
    if trust.policies:
        verification = await verify_image(store, pinned, trust.policies, platform=platform,
                                          attestation_types=trust.attestation_types,
                                          require_attestation=trust.require_attestation,
                                          every_type=True, prefetched=by_tag)
    else:
        verification = await _resolve_only(store, pinned, platform, by_tag)
    mismatch = None
    image = verification.image
    if image is not None and entry.platform_digest is not None and (
            str(image.platform_digest) != entry.platform_digest):
        mismatch = (f"platform {entry.platform} manifest is {image.platform_digest}, "
                    f"pinned {entry.platform_digest}")
    return EntryOutcome(entry, trust, verification, tag, mismatch)


async def _resolve_only(store: ImageStore, ref: Reference, platform: Platform | None,
                        prefetched: Manifest | None) -> ImageVerification:
    """No trust entry applies: still check integrity, and record that nothing could verify."""
    try:
        image = await resolve(store, ref, platform, prefetched=prefetched)
    except ClampError as exc:
        error = exc if isinstance(exc, RegistryError) else RegistryError(str(exc))
        failed = VerificationResult(verdict="error", check="registry", reason=str(exc))
        return ImageVerification(ref, None, failed, registry_error=error)
    return ImageVerification(ref, image, no_trust(str(image.digest)))


def no_trust(manifest_digest: str) -> VerificationResult:
    """The result recorded for an image no trust entry applies to: nothing could verify it."""
    return VerificationResult(verdict="unsigned", check="policy",
                              reason="no trust entry applies to this image",
                              manifest_digest=manifest_digest)
