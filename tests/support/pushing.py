"""Push real images to a real registry over the distribution HTTP API (sync httpx).

Blobs go up monolithically (POST an upload session, then PUT the bytes with `?digest=`); manifests
are PUT by tag or digest with their media type. Auth follows the registry's `WWW-Authenticate`
challenge: Basic with the given credentials, or the Bearer token flow (anonymous when no
credentials are given). Every digest returned is computed over the exact bytes pushed, and checked
against the registry's `Docker-Content-Digest` answer.

Images are small but genuine: gzip'd tar layers, an image config whose `diff_ids` match, so tools
such as `skopeo inspect`/`skopeo copy` accept them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])


class PushError(RuntimeError):
    """The registry refused or failed a request."""

    def __init__(self, what: str, resp: httpx.Response) -> None:
        self.status_code = resp.status_code
        super().__init__(f"{what}: HTTP {resp.status_code}: {resp.text[:500]}")


class HasRegistry(Protocol):
    """What `RegistryPusher.for_registry` needs (matches `support.registry.RegistryHandle`)."""

    @property
    def url(self) -> str: ...

    @property
    def credentials(self) -> tuple[str, str] | None: ...


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    """Compact, key-sorted JSON: stable bytes, so a digest is reproducible from the same object."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="x",service="y",scope="a:b:c,d"` -> ("bearer", {...}).

    Commas inside quoted values (scope lists) are kept."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    i = 0
    while i < len(rest):
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().strip(",").strip().lower()
        if rest[eq + 1 : eq + 2] == '"':
            end = rest.find('"', eq + 2)
            end = len(rest) if end < 0 else end
            params[key] = rest[eq + 2 : end]
            i = end + 1
        else:
            end = rest.find(",", eq + 1)
            end = len(rest) if end < 0 else end
            params[key] = rest[eq + 1 : end].strip()
            i = end
        while i < len(rest) and rest[i] in ", ":
            i += 1
    return scheme.lower(), params


@dataclass(frozen=True)
class FetchedManifest:
    data: bytes
    media_type: str
    digest: str  # computed over `data`


class RegistryPusher:
    """A minimal distribution API client for test setup (push, fetch, delete).

    Not the project's client: it exists so tests can put known bytes into a registry and then check
    that `clamp.oci` reads them back faithfully.
    """

    def __init__(
        self, url: str, credentials: tuple[str, str] | None = None, *, timeout: float = 30.0
    ) -> None:
        self.url = url.rstrip("/")
        self._credentials = credentials
        self._client = httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False)
        self._tokens: dict[str, str] = {}
        self._use_basic = False

    @classmethod
    def for_registry(cls, registry: HasRegistry, *, anonymous: bool = False) -> RegistryPusher:
        return cls(registry.url, None if anonymous else registry.credentials)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RegistryPusher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- auth ------------------------------------------------------------------------------------
    def _auth_headers(self, scope: str) -> dict[str, str]:
        if scope in self._tokens:
            return {"Authorization": f"Bearer {self._tokens[scope]}"}
        return {}

    def _fetch_token(self, params: dict[str, str], scope: str) -> str:
        realm = params.get("realm")
        if not realm:
            raise RuntimeError("Bearer challenge without realm")
        query = {"scope": params.get("scope") or scope}
        if "service" in params:
            query["service"] = params["service"]
        resp = self._client.get(realm, params=query, auth=self._credentials)
        if resp.status_code != 200:
            raise PushError(f"token from {realm}", resp)
        body = resp.json()
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise RuntimeError(f"token endpoint {realm} answered without a token")
        return token

    def request(
        self,
        method: str,
        url: str,
        *,
        repo: str,
        actions: str = "pull",
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request, answering one auth challenge (Basic or Bearer) if the registry asks."""
        if not url.startswith("http"):
            url = f"{self.url}{url}"
        scope = f"repository:{repo}:{actions}"
        hdrs = dict(headers or {})
        for attempt in range(2):
            auth = self._credentials if self._use_basic else None
            resp = self._client.request(
                method,
                url,
                headers={**hdrs, **self._auth_headers(scope)},
                content=content,
                params=params,
                auth=auth,
            )
            if resp.status_code != 401 or attempt == 1:
                return resp
            scheme, cparams = _parse_challenge(resp.headers.get("WWW-Authenticate", ""))
            if scheme == "basic":
                if self._credentials is None:
                    return resp
                self._use_basic = True
            elif scheme == "bearer":
                self._tokens[scope] = self._fetch_token(cparams, scope)
            else:
                return resp
        return resp

    # -- blobs -----------------------------------------------------------------------------------
    def blob_exists(self, repo: str, digest: str) -> bool:
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", repo=repo)
        return resp.status_code == 200

    def push_blob(self, repo: str, data: bytes) -> str:
        """Upload `data` (POST a session, PUT the bytes with their digest); returns the digest."""
        digest = sha256_digest(data)
        if self.blob_exists(repo, digest):
            return digest
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", repo=repo, actions="pull,push")
        if resp.status_code != 202:
            raise PushError(f"start upload to {repo}", resp)
        location = httpx.URL(self.url + "/").join(resp.headers["Location"])
        location = location.copy_add_param("digest", digest)
        resp = self.request(
            "PUT",
            str(location),
            repo=repo,
            actions="pull,push",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if resp.status_code != 201:
            raise PushError(f"upload blob {digest} to {repo}", resp)
        return digest

    def get_blob(self, repo: str, digest: str) -> bytes:
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", repo=repo)
        if resp.status_code == 307:  # storage redirect (not used by filesystem storage)
            resp = self._client.get(resp.headers["Location"])
        if resp.status_code != 200:
            raise PushError(f"get blob {digest} from {repo}", resp)
        return resp.content

    # -- manifests -------------------------------------------------------------------------------
    def push_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> str:
        """PUT the exact `data` under a tag or digest; returns the digest of those bytes."""
        digest = sha256_digest(data)
        resp = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            repo=repo,
            actions="pull,push",
            content=data,
            headers={"Content-Type": media_type},
        )
        if resp.status_code != 201:
            raise PushError(f"put manifest {repo}:{reference}", resp)
        answered = resp.headers.get("Docker-Content-Digest")
        if answered is not None and answered != digest:
            raise RuntimeError(f"registry stored {answered} for bytes hashing to {digest}")
        return digest

    def get_manifest(self, repo: str, reference: str) -> FetchedManifest:
        url = f"/v2/{repo}/manifests/{reference}"
        resp = self.request("GET", url, repo=repo, headers={"Accept": MANIFEST_ACCEPT})
        if resp.status_code != 200:
            raise PushError(f"get manifest {repo}:{reference}", resp)
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        return FetchedManifest(resp.content, media_type, sha256_digest(resp.content))

    def resolve(self, repo: str, reference: str) -> str:
        """The digest a tag points at (from the hashed GET body, not a header)."""
        return self.get_manifest(repo, reference).digest

    def delete_manifest(self, repo: str, reference: str) -> str:
        """Delete the manifest a tag (or digest) names; distribution 2.8 removes its tags too."""
        digest = reference if reference.startswith("sha256:") else self.resolve(repo, reference)
        resp = self.request("DELETE", f"/v2/{repo}/manifests/{digest}", repo=repo, actions="*")
        if resp.status_code != 202:
            raise PushError(f"delete manifest {repo}@{digest}", resp)
        return digest

    def list_tags(self, repo: str) -> list[str]:
        resp = self.request("GET", f"/v2/{repo}/tags/list", repo=repo)
        if resp.status_code == 404:
            return []
        if resp.status_code != 200:
            raise PushError(f"list tags of {repo}", resp)
        return list(resp.json().get("tags") or [])


# -- image builders ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) not in (2, 3):
            raise ValueError(f"platform must be os/arch[/variant]: {text!r}")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def as_json(self) -> dict[str, str]:
        out = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        return out

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class ImageParts:
    """An image's bytes before pushing."""

    config: bytes
    layers: tuple[bytes, ...]
    manifest: bytes
    media_type: str
    platform: Platform

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)


@dataclass(frozen=True)
class PushedImage:
    repo: str
    tag: str | None
    digest: str
    manifest: bytes
    media_type: str
    config_digest: str
    layer_digests: tuple[str, ...]
    platform: Platform


@dataclass(frozen=True)
class PushedIndex:
    repo: str
    tag: str | None
    digest: str
    manifest: bytes
    media_type: str
    children: dict[str, PushedImage] = field(default_factory=dict)  # "linux/amd64" -> image


def _layer(rng: random.Random, size: int) -> tuple[bytes, bytes]:
    """A gzip'd tar holding one random file; returns (compressed, uncompressed tar)."""
    payload = rng.randbytes(size)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"clamp-test/{payload[:8].hex()}.bin")
        info.size = len(payload)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(payload))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0), raw


def build_image(
    *,
    docker: bool = False,
    layers: int = 1,
    platform: str | Platform = "linux/amd64",
    layer_size: int = 512,
    seed: int | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> ImageParts:
    """A small, valid image: OCI by default, Docker v2 schema 2 with `docker=True`.

    Random content (from `seed` if given, else the OS) so two calls give two digests.
    """
    rng = random.Random(seed if seed is not None else os.urandom(16))
    plat = platform if isinstance(platform, Platform) else Platform.parse(platform)
    built = [_layer(rng, layer_size) for _ in range(layers)]
    config_obj = {
        **plat.as_json(),
        "created": "2025-01-01T00:00:00Z",
        "config": {"Labels": labels or {}},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(raw) for _, raw in built]},
        "history": [{"created": "2025-01-01T00:00:00Z", "created_by": "clamp tests"}],
    }
    config = canonical_json(config_obj)
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest_obj: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
            "digest": sha256_digest(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": DOCKER_LAYER if docker else OCI_LAYER,
                "digest": sha256_digest(gz),
                "size": len(gz),
            }
            for gz, _ in built
        ],
    }
    if annotations and not docker:
        manifest_obj["annotations"] = annotations
    return ImageParts(
        config=config,
        layers=tuple(gz for gz, _ in built),
        manifest=canonical_json(manifest_obj),
        media_type=media_type,
        platform=plat,
    )


def push_parts(
    pusher: RegistryPusher, repo: str, parts: ImageParts, tag: str | None
) -> PushedImage:
    """Push blobs then the manifest (under `tag`, or by digest when `tag` is None)."""
    layer_digests = tuple(pusher.push_blob(repo, layer) for layer in parts.layers)
    config_digest = pusher.push_blob(repo, parts.config)
    digest = pusher.push_manifest(repo, tag or parts.digest, parts.manifest, parts.media_type)
    return PushedImage(
        repo=repo,
        tag=tag,
        digest=digest,
        manifest=parts.manifest,
        media_type=parts.media_type,
        config_digest=config_digest,
        layer_digests=layer_digests,
        platform=parts.platform,
    )


def push_image(
    pusher: RegistryPusher, repo: str, tag: str | None = None, **build: Any
) -> PushedImage:
    """Build (see `build_image` for keyword arguments) and push one image."""
    return push_parts(pusher, repo, build_image(**build), tag)


def push_index(
    pusher: RegistryPusher,
    repo: str,
    tag: str | None = None,
    *,
    docker: bool = False,
    platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64"),
    annotations: dict[str, str] | None = None,
    **build: Any,
) -> PushedIndex:
    """Push one child image per platform (by digest), then an OCI index or Docker manifest list."""
    children = {
        p: push_image(pusher, repo, None, docker=docker, platform=p, **build) for p in platforms
    }
    media_type = DOCKER_LIST if docker else OCI_INDEX
    index: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {
                "mediaType": child.media_type,
                "digest": child.digest,
                "size": len(child.manifest),
                "platform": child.platform.as_json(),
            }
            for child in children.values()
        ],
    }
    if annotations and not docker:
        index["annotations"] = annotations
    data = canonical_json(index)
    digest = pusher.push_manifest(repo, tag or sha256_digest(data), data, media_type)
    return PushedIndex(repo, tag, digest, data, media_type, children)


def push_raw_manifest(
    pusher: RegistryPusher, repo: str, reference: str, data: bytes, media_type: str
) -> str:
    """Push arbitrary manifest bytes (cosign `.sig`, referrers fallback index...) as they are.

    The blobs they reference must already be in the repository (`pusher.push_blob`).
    """
    return pusher.push_manifest(repo, reference, data, media_type)


def delete_tag(pusher: RegistryPusher, repo: str, tag: str) -> str:
    """Delete the manifest `tag` points at; returns its digest."""
    return pusher.delete_manifest(repo, tag)
