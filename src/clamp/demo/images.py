"""Small ROCm-like sample images, built byte-for-byte deterministically into any image store.

Each image is real (a gzip'd tar layer holding /opt/rocm-<version>/.info/version and an OCI
config whose diff_ids match), so other tools can read the demo's layout or registry too.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass

from clamp.digest import Digest
from clamp.oci.manifest import OCI_INDEX, OCI_MANIFEST, Manifest, encode_json
from clamp.oci.store import ImageStore

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class Pushed:
    tag: str
    manifest: Manifest


def _layer(version: str, os_name: str, arch: str, build: int) -> tuple[bytes, bytes]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        body = f"{version}-{build}\n{os_name} {arch}\n".encode()
        info = tarfile.TarInfo(f"opt/rocm-{version}/.info/version")
        info.size, info.mtime, info.mode = len(body), 0, 0o644
        tar.addfile(info, io.BytesIO(body))
    plain = raw.getvalue()
    packed = gzip.compress(plain, mtime=0)
    return plain, packed


async def put_image(store: ImageStore, repo: str, tag: str | None, *, version: str, os_name: str,
                    arch: str = "amd64", build: int = 1) -> Manifest:
    """Push one single-platform image; `tag=None` pushes it by digest only."""
    plain, packed = _layer(version, os_name, arch, build)
    config = encode_json({
        "architecture": arch, "os": "linux", "created": "2025-10-01T00:00:00Z",
        "config": {"Env": [f"ROCM_VERSION={version}", f"PATH=/opt/rocm-{version}/bin"],
                   "Labels": {"org.opencontainers.image.version": version,
                              "org.opencontainers.image.title": f"rocm/dev {os_name}"}},
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(plain).hexdigest()]}})
    layer_digest = await store.put_blob(repo, packed)
    config_digest = await store.put_blob(repo, config)
    raw = encode_json({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": str(config_digest), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": str(layer_digest), "size": len(packed)}],
        "annotations": {"org.opencontainers.image.version": version}})
    digest = await store.put_manifest(repo, tag or _digest_text(raw), raw, OCI_MANIFEST)
    return Manifest(raw, digest, OCI_MANIFEST, json.loads(raw))


async def put_index(store: ImageStore, repo: str, tag: str, *, version: str, os_name: str,
                    arches: tuple[str, ...] = ("amd64", "arm64"), build: int = 1) -> Manifest:
    """Push a multi-arch index (one child per architecture) under `tag`."""
    children = [(arch, await put_image(store, repo, None, version=version, os_name=os_name,
                                       arch=arch, build=build)) for arch in arches]
    raw = encode_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": str(child.digest), "size": len(child.raw),
         "platform": {"architecture": arch, "os": "linux"}} for arch, child in children]})
    digest = await store.put_manifest(repo, tag, raw, OCI_INDEX)
    return Manifest(raw, digest, OCI_INDEX, json.loads(raw))


def _digest_text(raw: bytes) -> str:
    return str(Digest("sha256", hashlib.sha256(raw).hexdigest()))
