"""Candidates for a pin: what an entry's tag names now, and newer releases, each verified.

A candidate digest is always the hash of the manifest bytes received for the tag, and it is
verified by that digest from those very bytes (never by the tag again), so a tag that moves while
we look cannot slip an unverified image in. Resolving the tag and verifying are `clamp verify`'s
own steps (`clamp.verify.entry.EntryCheck`, with the entry's trust, platform and attestation
rule); only the judgement is stricter (`_failed`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

from clamp.digest import Digest, parse_digest
from clamp.errors import ClampError, NotFoundError
from clamp.matrix import ImageEntry, LoadedMatrix
from clamp.oci.manifest import Manifest
from clamp.oci.reference import Reference
from clamp.oci.store import Stores
from clamp.signed.image import ImageVerification
from clamp.trust.result import VerificationResult
from clamp.update.discover import ReleaseLine, newer_tags
from clamp.update.report import Kind, PinState
from clamp.verify.entry import EntryCheck, TagCheck
from clamp.verify.policy import EntryTrust

State = Literal["current", "missing", "error", "verified", "rejected"]

#: How many newer releases of one line are tried, newest first, before giving up on the line.
MAX_DISCOVERY_ATTEMPTS = 5


@dataclass(frozen=True)
class Examined:
    """One entry (existing or discovered) after looking at its tag and verifying the candidate."""

    entry: ImageEntry  # the entry as it is (a discovered release: as it would be written)
    kind: Kind
    source: ImageEntry | None  # a discovered release: the entry whose settings it copies
    entry_check: EntryCheck  # the entry's check (settings, reference, trust), shared with verify
    tag_reference: Reference
    state: State
    tag: TagCheck | None = None  # what the tag named when it was asked (None: never asked)
    digest: Digest | None = None  # what the tag names now
    platform_digest: Digest | None = None
    verification: ImageVerification | None = None
    reason: str | None = None
    check: str | None = None
    renew: bool = False  # the tag still names the pin, but the pin is older than its TTL
    pin_state: PinState | None = None  # the current pin, verified again (every run)
    pin_reason: str | None = None  # why the current pin does not verify
    pin_signed_at: datetime | None = None  # the current pin's verified signing time, if any

    @property
    def trust(self) -> EntryTrust:
        return self.entry_check.trust

    @property
    def rollback(self) -> bool:
        """Drift to an image signed (verified time: log or timestamp) before the current pin.

        Not a refusal: cosign has no rollback rule, the candidate verified against the entry's
        trust, and a publisher may move a tag back on purpose (a withdrawn release). It is
        pinned and said in the PR body, so a reviewer decides; key-signed images without a log
        entry or timestamp have no verified time and cannot be told apart."""
        if not (self.drift and self.state == "verified" and self.verification is not None):
            return False
        signed_at = self.verification.result.integrated_time
        return signed_at is not None and self.pin_signed_at is not None and \
            signed_at < self.pin_signed_at

    @property
    def drift(self) -> bool:
        return (self.kind == "pinned" and self.digest is not None and not self.renew
                and str(self.digest) != self.entry.digest
                and self.state not in ("current", "missing", "error"))


async def examine(stores: Stores, loaded: LoadedMatrix, entry: ImageEntry, trust: EntryTrust, *,
                  kind: Kind, today: date, source: ImageEntry | None = None) -> Examined:
    """Resolve the entry's tag and verify what it names now; verify the current pin too.

    Every pin is verified again on every run, not only those whose tag moved: a pin whose
    signature no longer verifies (or was never valid) is reported (`pin_state`), so an update
    never calls an unverified pin "current". A pin past its TTL (`digest_ttl_days`, counted from
    `added`) that still verifies has its `added` and provenance renewed, so a strict matrix does
    not fail on age alone while its images keep verifying.
    """
    entry_check = EntryCheck.of(loaded, entry, trust, today=today)
    found = await entry_check.resolve_tag(stores)
    tag = found.tag
    base = Examined(entry, kind, source, entry_check, entry_check.reference, "error", tag=tag)
    pinned = entry_check.pinned
    if tag.state == "missing":
        assert found.failure is not None
        missing = _with(base, state="missing", reason=found.failure.message, check="tag")
        if pinned is None:
            return missing
        return _pin(missing, await _verify(stores, base, pinned))
    if found.manifest is None:
        return _with(base, reason=tag.error, check="registry")
    manifest = found.manifest
    if pinned is not None and tag.state == "current" and (
            entry.platform is None or entry.platform_digest is not None
            or not manifest.is_index):
        # Content-addressed: an unchanged index still names the same platform child, and a
        # single-platform image has no child to fill in (its config's platform is checked
        # when it is verified, as `clamp verify` checks it).
        current = _with(base, state="current", digest=pinned,
                        platform_digest=parse_digest(entry.platform_digest)
                        if entry.platform_digest else None)
        checked = await _verify(stores, _with(current, renew=tag.stale), pinned, manifest)
        if checked.state != "verified":
            return _pin(checked, checked)  # the tag names the pin, and it does not verify
        return _pin(checked if tag.stale else current, checked)
    digest = manifest.digest
    if pinned is None:
        return await _verify(stores, base, digest, manifest)
    if tag.state == "current":  # the pin, whose platform digest is to be filled in
        candidate = await _verify(stores, base, digest, manifest)
        return _pin(candidate, candidate)
    candidate, pin = await asyncio.gather(_verify(stores, base, digest, manifest),
                                          _verify(stores, base, pinned))
    return _pin(candidate, pin)


def _pin(examined: Examined, pin: Examined) -> Examined:
    """`examined` with what verifying the current pin (`pin`) found."""
    if pin.state == "verified":
        assert pin.verification is not None
        return _with(examined, pin_state="verified", pin_reason=None,
                     pin_signed_at=pin.verification.result.integrated_time)
    verification = pin.verification
    gone = (verification is not None and verification.image is None
            and isinstance(verification.registry_error, NotFoundError))
    state: PinState = "failed" if pin.state == "rejected" or gone else "error"
    reason = f"pin missing: {pin.reason}" if gone else pin.reason
    return _with(examined, pin_state=state, pin_reason=reason)


async def _verify(stores: Stores, base: Examined, digest: Digest,
                  prefetched: Manifest | None = None) -> Examined:
    entry_check = base.entry_check
    base = _with(base, digest=digest)
    if not entry_check.trust.policies:
        return _with(base, state="rejected", check="policy",
                     reason="no trust entry applies to this image, so nothing can verify it")
    verification = await entry_check.verify(stores, digest, prefetched=prefetched)
    image = verification.image
    base = _with(base, verification=verification,
                 platform_digest=image.platform_digest if image else None)
    if verification.registry_error is not None:
        return _with(base, state="error", check=verification.result.check or "registry",
                     reason=verification.result.reason)
    failed = _failed(verification)
    if failed is not None:
        return _with(base, state="rejected", check=failed.check or failed.verdict,
                     reason=f"{failed.verdict}: {failed.reason}")
    # An entry's platform on an image without an index: resolving it checked that the image's
    # config names that platform (or it failed above), so there is no platform child to expect.
    if image is None or image.digest != digest or (entry_check.platform is not None
                                                         and image.manifest.is_index
                                                         and image.platform_digest is None):
        return _with(base, state="rejected", check="integrity",
                     reason="the verified image is not the one the tag named")
    return _with(base, state="verified")


def _failed(verification: ImageVerification) -> VerificationResult | None:
    """The result that keeps a candidate out: a failed signature or a failed attestation.

    Stricter than `clamp verify`'s modes on purpose: an update pins only what verified, even
    where the matrix would merely warn (require_signature: false, attest_mode: optional).
    """
    if not verification.result.ok:
        return verification.result
    if verification.attestation is not None and not verification.attestation.ok:
        return verification.attestation
    return None


async def discover(stores: Stores, loaded: LoadedMatrix, line: ReleaseLine, trust: EntryTrust,
                   tags_cache: dict[tuple[int, str], asyncio.Task[list[str]]], *,
                   today: date) -> list[Examined]:
    """Newer releases of `line`, newest first, until one verifies (at most a few tried).

    Returns every release tried: the rejected ones are reported, the verified one is added.
    """
    source = line.newest
    entry_check = EntryCheck.of(loaded, source, trust, today=today)
    tag_ref = entry_check.reference
    store = stores.open(tag_ref)
    key = (id(store), tag_ref.repository)
    if key not in tags_cache:
        tags_cache[key] = asyncio.ensure_future(store.list_tags(tag_ref.repository))
    try:
        tags = await tags_cache[key]
    except ClampError as exc:
        failed = Examined(source, "new", source, entry_check, tag_ref.with_tag(None), "error",
                          reason=f"listing tags: {exc.message}", check="registry")
        return [failed]
    tried: list[Examined] = []
    for newer in newer_tags(tags, line.template, line.os, line.newest_key)[
            :MAX_DISCOVERY_ATTEMPTS]:
        entry = new_entry(source, newer.version)
        found = await examine(stores, loaded, entry, trust, kind="new", source=source,
                              today=today)
        tried.append(found)
        if found.state == "verified":
            break
    return tried


def new_entry(source: ImageEntry, version: str) -> ImageEntry:
    """A release newer than `source` on the same line: same OS, platform and overrides.

    The overrides (registry, repository, tag, policy, trust) are copied so the new entry is
    checked later exactly as its candidate was verified now.
    """
    return source.model_copy(update={"version": version, "digest": None, "added": None,
                                     "platform_digest": None, "provenance": None}, deep=True)


def _with(base: Examined, **changes: object) -> Examined:
    return replace(base, **changes)  # type: ignore[arg-type]
