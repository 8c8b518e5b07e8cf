"""clamp.signed against Debian's real docker-registry: what `attach` stores, `locate` finds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from clamp.digest import parse_digest
from clamp.oci.manifest import OCI_INDEX
from clamp.oci.reference import parse_reference
from clamp.oci.resolve import resolve
from clamp.oci.store import Stores
from clamp.signed.attach import push_bundle_referrer, push_legacy_signature
from clamp.signed.locate import fetch_signatures
from tests.support.pushing import RegistryPusher, push_image
from tests.support.registry import RegistryHandle


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_signatures_round_trip_through_sig_tag_and_referrers_fallback(
        registry: RegistryHandle, repo_name: str,
        make_pusher: Callable[..., RegistryPusher]) -> None:
    pushed = push_image(make_pusher(registry), repo_name, "t")

    async def go() -> tuple[Any, Any]:
        async with Stores() as stores:
            ref = parse_reference(f"{registry.host}/{repo_name}:t")
            store = stores.open(ref)
            image = await resolve(store, ref)
            empty = await fetch_signatures(store, repo_name, image.digest)
            await push_legacy_signature(store, repo_name, image.digest, b'{"payload":1}',
                                        {"dev.cosignproject.cosign/signature": "c2ln"})
            await push_bundle_referrer(store, repo_name, image.manifest, b'{"bundle":1}')
            return empty, await fetch_signatures(store, repo_name, image.digest)

    empty, found = run(go())
    assert empty.empty
    assert [layer.payload for layer in found.legacy] == [b'{"payload":1}']
    assert found.legacy[0].annotations["dev.cosignproject.cosign/signature"] == "c2ln"
    assert [b.bundle for b in found.bundles] == [b'{"bundle":1}']
    # The fallback index really is stored under the sha256-<hex> tag, as the OCI spec says.
    pusher = make_pusher(registry)
    fallback = pusher.get_manifest(repo_name, parse_digest(pushed.digest).tag_form)
    assert json.loads(fallback.data)["mediaType"] == OCI_INDEX
