"""Resolving a reference to the digest of bytes actually received, and its platform child.

A tag on a multi-arch image names an index: we record the index digest and, when a platform is
asked for, the digest of that platform's manifest too (fetched and hashed as well).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from clamp.digest import Digest
from clamp.errors import ClampError, NotFoundError, RegistryError
from clamp.oci.manifest import (
    IMAGE_TYPES,
    INDEX_TYPES,
    Descriptor,
    Manifest,
    Platform,
    read_document,
)
from clamp.oci.reference import Reference
from clamp.oci.registry import MAX_BLOB_BYTES
from clamp.oci.store import ImageStore, Stores


@dataclass(frozen=True)
class ResolvedImage:
    reference: Reference  # as asked for
    manifest: Manifest  # the top-level manifest or index, exact bytes received
    platform: Platform | None = None
    platform_manifest: Manifest | None = None

    @property
    def digest(self) -> Digest:
        return self.manifest.digest

    @property
    def platform_digest(self) -> Digest | None:
        return self.platform_manifest.digest if self.platform_manifest else None

    @property
    def pinned(self) -> Reference:
        return self.reference.with_digest(self.digest) if self.reference.tag is None else \
            Reference(self.reference.location, self.reference.repository, self.reference.tag,
                      self.digest)

    @property
    def image_manifest(self) -> Manifest:
        """The manifest a runtime would run: the platform child when there is one."""
        return self.platform_manifest or self.manifest


async def resolve(store: ImageStore, ref: Reference, platform: Platform | None = None, *,
                  prefetched: Manifest | None = None) -> ResolvedImage:
    """Fetch `ref` (its digest when it has one, else its tag) and hash what arrives.

    `prefetched` is a manifest the caller already fetched and hashed (e.g. through the tag)
    whose digest is the one `ref` pins; it saves a round trip and is used only if it matches.
    """
    if prefetched is not None and ref.digest is not None and prefetched.digest == ref.digest:
        manifest = prefetched
    else:
        manifest = await store.get_manifest(ref.repository, ref.identifier)
    child: Manifest | None = None
    if platform is not None and manifest.is_index:
        desc = manifest.platform_child(platform)
        if desc is None:
            have = ", ".join(sorted({str(d.platform) for d in manifest.manifests if d.platform}))
            raise NotFoundError(f"index has no {platform} manifest (has: {have or 'none'})",
                                where=str(ref))
        child = await store.get_manifest(ref.repository, str(desc.digest))
        _check_child(desc, child, platform, str(ref))
    elif platform is not None:
        await _check_image_platform(store, ref, manifest, platform)
    return ResolvedImage(reference=ref, manifest=manifest, platform=platform,
                         platform_manifest=child)


def _check_child(desc: Descriptor, child: Manifest, platform: Platform, where: str) -> None:
    """The platform entry must describe the manifest it names, as a runtime checks before it
    runs it: containerd and go-containerregistry refuse a pull whose bytes are not the entry's
    size, containerd's ValidateMediaType one typed as an image that holds an index (or the
    other way round), and an entry of no manifest type is no image to run. An entry that is
    itself an index is refused too: a runtime descends into it and runs one of *its* children,
    so clamp would have recorded and verified the nested index, not the image that runs."""
    what = f"index entry for {platform} ({desc.digest})"
    if desc.media_type not in INDEX_TYPES | IMAGE_TYPES:
        raise RegistryError(f"{what} has media type {desc.media_type[:80]!r}, not a manifest's",
                            where=where)
    if len(child.raw) != desc.size:
        raise RegistryError(f"{what} says {desc.size} bytes, the manifest it names has "
                            f"{len(child.raw)}", where=where)
    if desc.media_type in INDEX_TYPES and not child.is_index:
        raise RegistryError(f"{what} is typed as an index but names a {child.media_type[:80]!r} "
                            "document", where=where)
    if desc.media_type in INDEX_TYPES or child.is_index:
        raise RegistryError(f"{what} is itself an index (nested indexes are not supported: a "
                            "runtime would run a manifest further down)", where=where)
    if child.media_type not in IMAGE_TYPES:
        raise RegistryError(f"{what} names a {child.media_type[:80]!r} document, not an image "
                            "manifest", where=where)


async def _check_image_platform(store: ImageStore, ref: Reference, manifest: Manifest,
                                platform: Platform) -> None:
    """A platform asked of a single-platform image: its config must name that platform, or the
    image is refused as an index without that platform is. Docker's image service does the same
    (a manifest whose config platform does not match is "found but does not match the specified
    platform", not found); without it, `--platform linux/arm64` on an amd64 image verified and
    a matrix entry's platform was recorded for an image of another one. The config is fetched
    by its digest within the blob bound and read as Go reads it, as every manifest is."""
    where = str(ref)
    config = manifest.config
    if config is None:
        raise NotFoundError(f"image manifest names no config, so no platform (asked for "
                            f"{platform})", where=where)
    raw = await store.get_blob(ref.repository, config.digest,
                               max_bytes=min(config.size, MAX_BLOB_BYTES))
    body = read_document(raw, what="image config", where=f"{where} (config {config.digest})")
    os_name, arch, variant = body.get("os"), body.get("architecture"), body.get("variant")
    if not (isinstance(os_name, str) and os_name and isinstance(arch, str) and arch):
        raise NotFoundError(f"image config names no platform (asked for {platform})",
                            where=where)
    have = Platform(os_name, arch, variant if isinstance(variant, str) and variant else None)
    got, want = have.normalized(), platform.normalized()
    if (got.os, got.architecture) != (want.os, want.architecture) or (
            platform.variant is not None and got.variant != want.variant):
        raise NotFoundError(f"image is {str(have)[:100]}, not {platform} (a single-platform "
                            "image, no index to choose from)", where=where)


@dataclass(frozen=True)
class ResolveOutcome:
    reference: Reference
    image: ResolvedImage | None
    error: ClampError | None


async def resolve_many(stores: Stores, refs: Sequence[tuple[Reference, Platform | None]]
                       ) -> list[ResolveOutcome]:
    """Resolve many references concurrently (the pool bounds the parallelism); never raises
    for one bad reference: each outcome carries its own error."""

    async def one(ref: Reference, platform: Platform | None) -> ResolveOutcome:
        try:
            return ResolveOutcome(ref, await resolve(stores.open(ref), ref, platform), None)
        except ClampError as exc:
            return ResolveOutcome(ref, None, exc)
        except Exception as exc:  # a bug or an exotic failure: still never crash the batch
            return ResolveOutcome(ref, None, RegistryError(f"{type(exc).__name__}: {exc}",
                                                           where=str(ref)))

    return list(await asyncio.gather(*(one(r, p) for r, p in refs)))
