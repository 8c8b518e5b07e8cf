"""The referrers tag schema's fallback index (`sha256-<hex>`), read as its writers write it.

The distribution spec asks whoever updates the fallback index to copy each referrer's
`artifactType` into its descriptor (the manifest's own `artifactType`, else its config's media
type), as a registry with the referrers API does. go-containerregistry, which cosign pushes
with, writes the config's media type whatever the manifest says: a cosign v3 bundle (config
`application/vnd.oci.empty.v1+json`, artifactType the bundle's) is listed as an *empty* artifact
(cosign#4641; seen on GHCR). Reading the descriptor's word alone, clamp passed over every
bundle cosign had stored on a registry without the referrers API (GHCR, Docker Hub, distribution
2.x) and found the image unsigned (session 13).

A registry with the referrers API that fills `artifactType` the same way (from the config) is
read the same way: the completion costs nothing where every descriptor names its type.

So a descriptor there that names no artifact type, or the empty one, is completed from the
referrer manifest itself, fetched by its digest (hashed as every manifest is, so its
`artifactType` is as trustworthy as the bytes; what the referrer is worth is still decided by
verifying it). At most `MAX_COMPLETED` per listing, the others left as listed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

from clamp.errors import ClampError
from clamp.oci.manifest import OCI_EMPTY_CONFIG, Descriptor, Manifest

MAX_COMPLETED = 32  # far more signatures and attestations than an image has
#: What an unhelpful fallback descriptor says: nothing, or the empty config's media type.
_UNSAID = frozenset({"", OCI_EMPTY_CONFIG})


async def completed(found: list[Descriptor],
                    fetch: Callable[[str], Awaitable[Manifest]]) -> list[Descriptor]:
    """`found` (a fallback index's descriptors) with each unhelpful artifact type replaced by
    the one its manifest states; `fetch(digest)` gets a manifest by digest. A manifest that
    cannot be fetched, or that states nothing either, leaves its descriptor as it was (the
    reader that wanted it reports it missing)."""
    todo = [i for i, d in enumerate(found) if (d.artifact_type or "") in _UNSAID]
    todo = todo[:MAX_COMPLETED]

    async def one(desc: Descriptor) -> Descriptor:
        try:
            manifest = await fetch(str(desc.digest))
        except ClampError:
            return desc
        stated = manifest.artifact_type
        return replace(desc, artifact_type=stated) if stated else desc

    done = await asyncio.gather(*(one(found[i]) for i in todo))
    out = list(found)
    for i, desc in zip(todo, done, strict=True):
        out[i] = desc
    return out
