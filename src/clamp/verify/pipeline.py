"""Verify every pinned entry of a matrix: integrity, signatures, tag drift and staleness.

Each entry is checked by `clamp.verify.entry.EntryCheck`, the check `update` and
`resolve --check` use too. Entries run concurrently (bounded), so the whole matrix costs about a
few of one entry's round trips. One entry's failure never stops the others: each outcome carries
its own evidence or error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from clamp.matrix import ImageEntry, LoadedMatrix
from clamp.matrix.select import EntrySettings
from clamp.oci.store import Stores
from clamp.signed.image import ImageVerification
from clamp.verify.entry import EntryCheck, TagCheck
from clamp.verify.policy import EntryTrust, PolicyCache


@dataclass(frozen=True)
class EntryOutcome:
    entry: ImageEntry
    trust: EntryTrust
    verification: ImageVerification
    tag: TagCheck
    platform_mismatch: str | None  # the platform manifest is not the pinned one
    #: The entry's merged settings (`effective()`), when its EntryCheck computed them: the
    #: decision and the provenance record read them instead of merging the defaults again.
    settings: EntrySettings | None = None


async def verify_entries(stores: Stores, loaded: LoadedMatrix, entries: Sequence[ImageEntry], *,
                         concurrency: int = 16, today: date | None = None,
                         on_done: Callable[[EntryOutcome], None] | None = None
                         ) -> list[EntryOutcome]:
    """Verify `entries` (pinned ones only) and return outcomes in the same order."""
    cache = PolicyCache(loaded)
    day = today or date.today()
    checks = [EntryCheck.of(loaded, e, cache, today=day) for e in entries]  # bad keys fail now
    gate = asyncio.Semaphore(concurrency)

    async def one(check: EntryCheck) -> EntryOutcome:
        async with gate:
            outcome = await verify_entry(stores, check)
        if on_done is not None:
            on_done(outcome)
        return outcome

    return list(await asyncio.gather(*(one(c) for c in checks)))


async def verify_entry(stores: Stores, check: EntryCheck) -> EntryOutcome:
    """The pinned entry, checked: the tag first (GET), and when it still names the pin (the
    usual case) its bytes, already hashed, are the pinned manifest verification goes on from."""
    pinned = check.pinned
    assert pinned is not None
    found = await check.resolve_tag(stores)
    verification = await check.verify(stores, pinned, prefetched=found.manifest)
    return EntryOutcome(check.entry, check.trust, verification, found.tag,
                        check.platform_mismatch(verification), check.settings)
