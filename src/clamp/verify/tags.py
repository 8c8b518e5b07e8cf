"""Tag checks for pinned entries: drift (the tag moved), a missing tag, a stale pin.

A HEAD answer is enough to say "the tag still names the pin" (nothing new gets pinned on its
word); when it names something else, the new manifest is fetched and hashed before drift is
reported, so a lying HEAD cannot invent drift either.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from clamp.digest import Digest, parse_digest
from clamp.errors import ClampError, NotFoundError
from clamp.matrix import ImageEntry, LoadedMatrix, effective, image_ref
from clamp.oci.manifest import Manifest
from clamp.oci.reference import Reference
from clamp.oci.store import Stores, location_reference

TagState = Literal["current", "drift", "missing", "error"]


@dataclass(frozen=True)
class TagCheck:
    entry_id: str
    tag_reference: str
    pinned: Digest
    current: Digest | None
    state: TagState
    stale: bool
    age_days: int | None
    ttl_days: int | None
    error: str | None = None

    @property
    def summary(self) -> str:
        parts = {"current": "tag still names the pin",
                 "drift": f"tag now names {self.current}",
                 "missing": "tag not found in the registry",
                 "error": f"could not check: {self.error}"}[self.state]
        if self.stale:
            parts += f"; pin is {self.age_days} days old (TTL {self.ttl_days})"
        return parts


def entry_reference(loaded: LoadedMatrix, entry: ImageEntry) -> Reference:
    """The entry's tag reference as a clamp.oci reference (registry or OCI layout).

    An `oci:DIR` registry is relative to the matrix file, like key paths, so a matrix and its
    layout can move together.
    """
    ref = image_ref(loaded.model, entry)
    return location_reference(ref.registry, ref.repository, ref.tag, base=loaded.path.parent,
                              where=f"{loaded.path}: entry {entry.id}")


def staleness(loaded: LoadedMatrix, entry: ImageEntry, today: date) -> tuple[bool, int | None,
                                                                             int | None]:
    ttl = effective(loaded.model, entry).digest_ttl_days
    if entry.added is None:
        return False, None, ttl
    age = (today - entry.added).days
    return (ttl is not None and age > ttl), age, ttl


async def check_tag(stores: Stores, loaded: LoadedMatrix, entry: ImageEntry,
                    today: date) -> TagCheck:
    """The tag check alone: a HEAD that confirms the pin costs no body; anything else is
    fetched and hashed (`fetch_tag`) before drift is reported."""
    assert entry.digest is not None
    ref = entry_reference(loaded, entry)
    try:
        head = await stores.open(ref).head_manifest(ref.repository, ref.identifier)
    except ClampError:
        head = None  # the GET below reports the failure with its reason
    if head is not None and str(head.digest) == entry.digest:
        stale, age, ttl = staleness(loaded, entry, today)
        return TagCheck(entry.id, str(ref), head.digest, head.digest, "current", stale, age, ttl)
    check, _ = await fetch_tag(stores, loaded, entry, today)
    return check


async def fetch_tag(stores: Stores, loaded: LoadedMatrix, entry: ImageEntry,
                    today: date) -> tuple[TagCheck, Manifest | None]:
    """GET (not HEAD) the entry's tag: the tag check, plus the hashed manifest it names.

    When the tag still names the pin, the caller verifies those very bytes and saves a request.
    """
    assert entry.digest is not None
    pinned = parse_digest(entry.digest)
    ref = entry_reference(loaded, entry)
    stale, age, ttl = staleness(loaded, entry, today)
    result = TagCheck(entry.id, str(ref), pinned, None, "error", stale, age, ttl)
    try:
        manifest = await stores.open(ref).get_manifest(ref.repository, ref.identifier)
    except NotFoundError:
        return replace(result, state="missing"), None
    except ClampError as exc:
        return replace(result, error=exc.message), None
    state: TagState = "current" if manifest.digest == pinned else "drift"
    return replace(result, current=manifest.digest, state=state), manifest


async def check_tags(stores: Stores, loaded: LoadedMatrix, entries: list[ImageEntry],
                     today: date | None = None) -> list[TagCheck]:
    day = today or date.today()
    return list(await asyncio.gather(*(check_tag(stores, loaded, e, day) for e in entries)))

