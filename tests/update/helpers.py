"""Pushing real (tiny) images and real signatures for the update tests, and writing matrices.

Images come from `clamp.demo.images` (genuine layers and configs), signatures from
`clamp.trust.sign` pushed with `clamp.signed.attach`, all through clamp's own registry client
against the real `docker-registry` fixture.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.cli.main import app, invoke
from clamp.demo.images import put_image, put_index
from clamp.oci.manifest import Manifest
from clamp.oci.reference import parse_reference
from clamp.oci.store import ImageStore, Stores
from clamp.signed.attach import push_legacy_signature
from clamp.trust import policy as trust_policy
from clamp.trust.keys import PublicKey
from clamp.trust.mediatypes import ANN_BUNDLE, ANN_SIGNATURE
from clamp.trust.pki import TestSigstore, hashedrekord
from clamp.trust.sign import sign_image_legacy

T = TypeVar("T")
_builds = itertools.count(1)


def clamp(*args: str) -> int:
    return invoke(app, list(args), prog_name="clamp")


def in_store(host: str, repo: str, work: Callable[[ImageStore], Awaitable[T]]) -> T:
    async def go() -> T:
        async with Stores() as stores:
            return await work(stores.open(parse_reference(f"{host}/{repo}:x")))

    return asyncio.run(go())


@dataclass(frozen=True)
class Signer:
    key: ec.EllipticCurvePrivateKey
    public_path: Path


def new_signer(folder: Path, name: str = "mirror") -> Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    path = folder / f"{name}.pub"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PublicKey(key.public_key()).pem)
    return Signer(key, path)


def push(host: str, repo: str, tag: str, *, signer: Signer | None, index: bool = False,
         version: str = "6.4.4", os_name: str = "ubuntu-22.04",
         rekor: TestSigstore | None = None) -> Manifest:
    """Push a fresh image (or multi-arch index) under `tag`; sign its digest if `signer`
    (with a Rekor-like log entry from `rekor`'s log, as `cosign sign --key` with tlog upload)."""
    build = next(_builds)

    async def work(store: ImageStore) -> Manifest:
        if index:
            image = await put_index(store, repo, tag, version=version, os_name=os_name,
                                    build=build)
        else:
            image = await put_image(store, repo, tag, version=version, os_name=os_name,
                                    build=build)
        if signer is not None:
            layer = sign_image_legacy(signer.key, str(image.digest), f"{host}/{repo}")
            annotations = dict(layer.annotations)
            if rekor is not None:
                signature = base64.b64decode(annotations[ANN_SIGNATURE])
                pem = PublicKey(signer.key.public_key()).pem
                annotations[ANN_BUNDLE] = rekor.rekor_bundle(
                    hashedrekord(signature, layer.payload, pem))
            await push_legacy_signature(store, repo, image.digest, layer.payload, annotations)
        return image

    return in_store(host, repo, work)


def child_digest(index: Manifest, arch: str = "amd64") -> str:
    return str(next(d["digest"] for d in index.body["manifests"]
                    if d["platform"]["architecture"] == arch))


def native_matrix(host: str, repo: str, key: Path, images: list[dict[str, Any]]) -> str:
    """A native matrix with comments everywhere an edit could disturb them."""
    lines = [
        "# Update test matrix: comments must survive the rewrite.",
        "version: 1",
        "defaults:",
        f'  registry: "{host}"   # the test registry',
        f"  repository: {repo}",
        '  tag: "{version}-{os}"',
        "  policy: strict",
        "  trust: [mirror]",
        "trust:",
        "  mirror:",
        "    keys:",
        f"      - path: {key}",
        "    tlog: optional         # key-signed, no log entry",
        "images:",
    ]
    for image in images:
        lines.append(f'  - version: "{image["version"]}"   # {image["version"]} release')
        lines.append(f"    os: {image.get('os', 'ubuntu-22.04')}")
        digest = image.get("digest")
        lines.append(f"    digest: {digest or 'null'}  # pinned by hand")
        if image.get("added"):
            lines.append(f"    added: {image['added']}")
        if image.get("platform"):
            lines.append(f"    platform: {image['platform']}")
            lines.append(f"    platform_digest: {image['platform_digest']}")
    return "\n".join(lines) + "\n"


def push_legacy_signature_for(repo: str, image: Manifest, layer: Any
                              ) -> Callable[[ImageStore], Awaitable[Any]]:
    """A store action pushing an already-made signature layer for `image`."""
    async def work(store: ImageStore) -> Any:
        return await push_legacy_signature(store, repo, image.digest, layer.payload,
                                           dict(layer.annotations))

    return work


def use_as_default_root(monkeypatch: pytest.MonkeyPatch, pki: TestSigstore, folder: Path) -> None:
    """Make `pki`'s trusted root stand in for the shipped public-good one.

    The original matrix layout cannot name a trusted root, and its key_path signatures need a
    log entry: tests sign through their private sigstore, so its root must be the default.
    """
    root = folder / "trusted_root.json"
    root.write_bytes(pki.trusted_root_json())
    real = trust_policy.load_trusted_root
    monkeypatch.setattr(trust_policy, "load_trusted_root",
                        lambda path=None: real(path if path is not None else root))
