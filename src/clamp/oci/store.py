"""One image-store interface over interchangeable backends (registry API, OCI layout).

Callers ask `Stores.open(ref)` for the backend that serves a reference and never branch on which
kind it is, the way go-containerregistry's remote and layout packages share one image interface.
"""

from __future__ import annotations

from typing import Protocol

from clamp.digest import Digest, parse_digest
from clamp.errors import BadInputError
from clamp.oci.layout import LayoutStore
from clamp.oci.manifest import MANIFEST_ACCEPT, Descriptor, Manifest
from clamp.oci.pool import ClientOptions, RegistryPool
from clamp.oci.reference import Reference, parse_reference
from clamp.oci.registry import MAX_BLOB_BYTES

LAYOUT_PREFIX = "oci:"


class ImageStore(Protocol):
    async def get_manifest(self, repo: str, ref: str,
                           accept: tuple[str, ...] = MANIFEST_ACCEPT) -> Manifest: ...

    async def head_manifest(self, repo: str, ref: str) -> Descriptor | None: ...

    async def get_blob(self, repo: str, digest: Digest | str, *,
                       max_bytes: int = MAX_BLOB_BYTES) -> bytes: ...

    async def list_tags(self, repo: str) -> list[str]: ...

    async def referrers(self, repo: str, digest: Digest,
                        artifact_type: str | None = None) -> list[Descriptor]: ...

    async def put_blob(self, repo: str, data: bytes) -> Digest: ...

    async def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> Digest: ...


def parse_image_ref(text: str, *, where: str | None = None) -> Reference:
    """A registry reference, or `oci:PATH[:TAG][@DIGEST]` for an OCI layout directory."""
    if not text.startswith(LAYOUT_PREFIX):
        return parse_reference(text, where=where)
    rest = text[len(LAYOUT_PREFIX):]
    digest = None
    if "@" in rest:
        rest, digest_text = rest.rsplit("@", 1)
        digest = parse_digest(digest_text, where=where)
    tag: str | None = None
    head, sep, tail = rest.rpartition(":")
    if sep and "/" not in tail and tail:
        rest, tag = head, tail
    if not rest:
        raise BadInputError(f"invalid layout reference {text!r}: no path", where=where)
    if tag is None and digest is None:
        tag = "latest"
    return Reference(registry=LAYOUT_PREFIX + rest, repository="", tag=tag, digest=digest)


class Stores:
    """Hands out the store for a reference; owns the registry connection pool."""

    def __init__(self, options: ClientOptions | None = None) -> None:
        self.pool = RegistryPool(options)
        self._layouts: dict[str, LayoutStore] = {}

    def open(self, ref: Reference) -> ImageStore:
        if ref.registry.startswith(LAYOUT_PREFIX):
            root = ref.registry[len(LAYOUT_PREFIX):]
            return self._layouts.setdefault(root, LayoutStore(root))
        return self.pool.client(ref.registry)

    async def aclose(self) -> None:
        await self.pool.aclose()

    async def __aenter__(self) -> Stores:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
