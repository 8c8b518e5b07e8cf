"""One image-store interface over interchangeable backends (registry API, OCI layout).

Callers ask `Stores.open(ref)` for the backend that serves a reference and never branch on which
kind it is, the way go-containerregistry's remote and layout packages share one image interface.
"""

from __future__ import annotations

from typing import Protocol

from clamp.digest import Digest
from clamp.location import Layout, Registry
from clamp.oci.layout import LayoutStore
from clamp.oci.manifest import MANIFEST_ACCEPT, Descriptor, Manifest
from clamp.oci.pool import ClientOptions, RegistryPool
from clamp.oci.reference import Reference, location_reference, parse_image_ref
from clamp.oci.registry import MAX_BLOB_BYTES

__all__ = ["ImageStore", "Stores", "location_reference", "parse_image_ref"]


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


class Stores:
    """Hands out the store for a reference; owns the registry connection pool."""

    def __init__(self, options: ClientOptions | None = None) -> None:
        self.pool = RegistryPool(options)
        self._layouts: dict[str, LayoutStore] = {}

    def open(self, ref: Reference) -> ImageStore:
        """The backend the reference's typed location names: a layout never reaches the
        registry pool, so no credentials or connections are ever made for it."""
        match ref.location:
            case Layout(path=root):
                return self._layouts.setdefault(root, LayoutStore(root))
            case Registry(host=host):
                return self.pool.client(host)

    async def aclose(self) -> None:
        await self.pool.aclose()

    async def __aenter__(self) -> Stores:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
