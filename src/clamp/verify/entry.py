"""Checking one matrix entry: resolve its tag, check the bytes, verify the signature, decide.

`verify --matrix` (clamp.verify.pipeline), `update` (clamp.update.candidates) and
`resolve --check` (clamp.cli.resolve_cmd) all check entries through `EntryCheck`, so the three
cannot drift apart: the entry's settings (`effective()`), its tag reference, its trust and its
platform are computed once, when the check is made, and every step reads them from there. The
decision is each command's own, made on what the steps found and nothing else: verify's policy
modes (clamp.verify.decision, with `settings.policy`), update's stricter rule (only what
verified is pinned), resolve --check's exit code from the tag state.

The tag: a HEAD answer is enough to say "the tag still names the pin" (nothing new gets pinned on
its word); when it names something else, the manifest is fetched and hashed before drift is
reported, so a lying HEAD cannot invent drift either. A fetched manifest is hashed once, where it
is parsed (`Manifest.digest`); every later comparison reads that digest, and the bytes go on to
verification (`prefetched`) instead of being fetched and hashed again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Literal

from clamp.digest import Digest, parse_digest
from clamp.errors import ClampError, NotFoundError, RegistryError
from clamp.matrix import ImageEntry, LoadedMatrix, effective
from clamp.matrix.models import render_tag
from clamp.matrix.select import EntrySettings, ImageRef
from clamp.oci.manifest import Manifest, Platform
from clamp.oci.reference import Reference
from clamp.oci.store import Stores, location_reference
from clamp.verify.policy import EntryTrust, PolicyCache

if TYPE_CHECKING:  # loaded by the signature step only: `resolve --check` needs no crypto
    from clamp.signed.image import ImageVerification
    from clamp.trust.result import VerificationResult

TagState = Literal["current", "drift", "missing", "error"]
#: How far after today a pin's `added` may be and still be today somewhere (a date written in a
#: time zone ahead of the verifier's); past it the pin is stale (`staleness`).
FUTURE_TOLERANCE_DAYS = 1

#: The trust of a check that verifies nothing (`resolve --check` asks only about the tag).
NO_TRUST = EntryTrust(names=(), policies=(), attestation_types=(), require_attestation=False,
                      require_signature=False)


@dataclass(frozen=True)
class TagCheck:
    """What the entry's tag named when it was asked, judged against a digest (the pin)."""

    entry_id: str
    tag_reference: str
    pinned: Digest | None
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
            parts += f"; {self.stale_text}"
        return parts

    @property
    def stale_text(self) -> str:
        """Why the pin is stale: too old, or dated in the future (no TTL counts from it)."""
        if self.age_days is not None and self.age_days < 0:
            return (f"pin is dated {-self.age_days} days in the future (TTL {self.ttl_days} "
                    "cannot count from it)")
        return f"pin is {self.age_days} days old (TTL {self.ttl_days})"


@dataclass(frozen=True)
class ResolvedTag:
    """What resolving the tag found: the tag check, the manifest fetched and hashed (None after
    a HEAD that confirmed the pin, or a failure), and the failure itself."""

    tag: TagCheck
    manifest: Manifest | None = None
    failure: ClampError | None = None


def names(manifest: Manifest, digest: Digest) -> bool:
    """Whether `manifest` (hashed when it was parsed) is the one `digest` names.

    Only a pin of another algorithm than the fetch's (a sha512 pin) hashes the bytes again, with
    that algorithm: comparing digests of different algorithms would call every such pin drift.
    """
    if manifest.digest.algorithm == digest.algorithm:
        return manifest.digest == digest
    return digest.matches(manifest.raw)


def entry_reference(loaded: LoadedMatrix, entry: ImageEntry,
                    settings: EntrySettings | None = None) -> Reference:
    """The entry's tag reference as a clamp.oci reference (registry or OCI layout).

    An `oci:DIR` registry is relative to the matrix file, like key paths, so a matrix and its
    layout can move together.
    """
    ref = image_ref_of(entry, settings or effective(loaded.model, entry))
    return location_reference(ref.registry, ref.repository, ref.tag, base=loaded.path.parent,
                              where=f"{loaded.path}: entry {entry.id}")


def image_ref_of(entry: ImageEntry, settings: EntrySettings) -> ImageRef:
    """`clamp.matrix.image_ref`, from settings already merged (no second `effective()`)."""
    tag = render_tag(settings.tag_template, entry.version, entry.os)
    return ImageRef(settings.registry, settings.repository, tag, entry.digest, entry.platform)


@dataclass(frozen=True)
class EntryCheck:
    """One entry, ready to be checked: everything the steps need, computed once."""

    entry: ImageEntry
    settings: EntrySettings
    image: ImageRef
    reference: Reference  # the tag reference (registry or layout), where the steps look
    trust: EntryTrust
    platform: Platform | None
    today: date

    @classmethod
    def of(cls, loaded: LoadedMatrix, entry: ImageEntry, trust: PolicyCache | EntryTrust, *,
           today: date) -> EntryCheck:
        """The check of `entry`, its trust from `trust` (a PolicyCache), or `trust` itself when
        the caller already built it (update: a discovered release takes its source's)."""
        settings = effective(loaded.model, entry)
        if isinstance(trust, PolicyCache):
            trust = trust.for_entry(entry, settings)
        return cls(entry, settings, image_ref_of(entry, settings),
                   entry_reference(loaded, entry, settings), trust,
                   Platform.parse(entry.platform) if entry.platform else None, today)

    @property
    def pinned(self) -> Digest | None:
        return parse_digest(self.entry.digest) if self.entry.digest is not None else None

    def staleness(self, added: date | None) -> tuple[bool, int | None, int | None]:
        """(stale, age in days, TTL) of a pin added on `added`, counted to `today`.

        A pin dated after today (beyond a day's time-zone difference) is stale too: its age is
        negative and the TTL would never count down from it (`added: 2099-01-01` kept any pin
        fresh for good; the origin read it so). With no TTL the date decides nothing."""
        ttl = self.settings.digest_ttl_days
        if added is None:
            return False, None, ttl
        age = (self.today - added).days
        return (ttl is not None and (age > ttl or age < -FUTURE_TOLERANCE_DAYS)), age, ttl

    def tag_check(self, pinned: Digest | None, current: Digest | None, state: TagState,
                  added: date | None, error: str | None = None) -> TagCheck:
        stale, age, ttl = self.staleness(added)
        return TagCheck(self.entry.id, str(self.reference), pinned, current, state, stale, age,
                        ttl, error)

    def judged_against(self, tag: TagCheck, digest: Digest, added: date | None) -> TagCheck:
        """The same tag observation judged against another digest pinned on `added` (update's
        record of a candidate, as the entry would read with it): nothing is asked again."""
        if tag.state in ("missing", "error"):
            return self.tag_check(digest, None, tag.state, added, tag.error)
        state: TagState = "current" if tag.current == digest else "drift"
        return self.tag_check(digest, tag.current, state, added)

    # ---- step 1 and 2: resolve the tag, check the bytes ------------------------------------

    async def resolve_tag(self, stores: Stores, *, head: bool = False) -> ResolvedTag:
        """Ask the registry what the tag names: the tag check and the hashed manifest (GET).

        `head`: only the tag state is wanted (`resolve --check`); a HEAD that names the pin
        confirms it without a body, anything else is fetched and hashed before drift is said.
        """
        pinned, added = self.pinned, self.entry.added
        if head and pinned is not None:
            try:
                answer = await stores.open(self.reference).head_manifest(
                    self.reference.repository, self.reference.identifier)
            except ClampError:
                answer = None  # the GET below reports the failure with its reason
            if answer is not None and answer.digest == pinned:
                return ResolvedTag(self.tag_check(pinned, answer.digest, "current", added))
        try:
            manifest = await stores.open(self.reference).get_manifest(
                self.reference.repository, self.reference.identifier)
        except NotFoundError as exc:
            return ResolvedTag(self.tag_check(pinned, None, "missing", added), failure=exc)
        except ClampError as exc:
            return ResolvedTag(self.tag_check(pinned, None, "error", added, exc.message),
                               failure=exc)
        if pinned is not None and names(manifest, pinned):
            return ResolvedTag(self.tag_check(pinned, pinned, "current", added), manifest)
        state: TagState = "drift" if pinned is not None else "current"
        return ResolvedTag(self.tag_check(pinned, manifest.digest, state, added), manifest)

    # ---- step 3: verify the signature --------------------------------------------------------

    async def verify(self, stores: Stores, digest: Digest, *,
                     prefetched: Manifest | None = None) -> ImageVerification:
        """Verify the image `digest` names (by digest, never by the tag again) with the entry's
        trust; `prefetched` is the tag's manifest, used only if it is the one `digest` names.
        Without any trust entry the bytes are still checked, and nothing could verify them."""
        from clamp.oci.resolve import resolve
        from clamp.signed.image import ImageVerification, verify_image
        from clamp.trust.result import VerificationResult

        ref = self.reference.with_digest(digest)  # keeps the tag for display
        store = stores.open(self.reference)
        usable = prefetched if prefetched is not None and prefetched.digest == digest else None
        trust = self.trust
        if trust.policies:
            return await verify_image(store, ref, trust.policies, platform=self.platform,
                                      attestation_types=trust.attestation_types,
                                      require_attestation=trust.require_attestation,
                                      every_type=True, prefetched=usable)
        try:
            image = await resolve(store, ref, self.platform, prefetched=usable)
        except ClampError as exc:
            error = exc if isinstance(exc, RegistryError) else RegistryError(str(exc))
            failed = VerificationResult(verdict="error", check="registry", reason=str(exc))
            return ImageVerification(ref, None, failed, registry_error=error)
        return ImageVerification(ref, image, no_trust(str(image.digest)))

    # ---- step 4: what the steps found, for the decision ------------------------------------

    def platform_mismatch(self, verification: ImageVerification) -> str | None:
        """Why the platform manifest is not the pinned one, if it is not."""
        image, entry = verification.image, self.entry
        if image is not None and entry.platform_digest is not None and (
                str(image.platform_digest) != entry.platform_digest):
            return (f"platform {entry.platform} manifest is {image.platform_digest}, "
                    f"pinned {entry.platform_digest}")
        return None

    def with_entry(self, entry: ImageEntry) -> EntryCheck:
        """The same check for `entry` as it would read after a rewrite (same settings)."""
        return replace(self, entry=entry, image=image_ref_of(entry, self.settings))


async def check_tags(stores: Stores, loaded: LoadedMatrix, entries: Sequence[ImageEntry],
                     today: date | None = None) -> list[TagCheck]:
    """`resolve --check`: each pinned entry's tag state alone (HEAD first), concurrently.

    Only the tag is asked, so no trust entry is built and no key or root file is read."""
    day = today or date.today()

    async def one(entry: ImageEntry) -> TagCheck:
        check = EntryCheck.of(loaded, entry, NO_TRUST, today=day)
        return (await check.resolve_tag(stores, head=True)).tag

    return list(await asyncio.gather(*(one(e) for e in entries)))


def no_trust(manifest_digest: str) -> VerificationResult:
    """The result recorded for an image no trust entry applies to: nothing could verify it."""
    from clamp.trust.result import VerificationResult

    return VerificationResult(verdict="unsigned", check="policy",
                              reason="no trust entry applies to this image",
                              manifest_digest=manifest_digest)
