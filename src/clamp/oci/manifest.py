"""Manifests kept as the bytes received, with a parsed view beside them.

As in go-containerregistry, the raw bytes are the truth (the digest is theirs); the parsed JSON is
only a convenience view and is never re-serialised for hashing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from clamp.digest import Digest, digest_of
from clamp.errors import RegistryError
from clamp.strictjson import StrictJSONError, case_fold, loads_strict

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_ACCEPT = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # distribution's own limit


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform {text!r} must be os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def normalized(self) -> Platform:
        """The form platforms are compared in, as container runtimes compare them (containerd's
        rules): architecture aliases folded (x86_64 -> amd64, aarch64 -> arm64), arm64's v8 and
        amd64's v1 are the default (no variant), and plain arm means arm/v7."""
        os_name = self.os.lower()
        arch = _ARCH_ALIASES.get(self.architecture.lower(), self.architecture.lower())
        variant = (self.variant or "").lower() or None
        if variant in _DEFAULT_VARIANTS.get(arch, ()):
            variant = None
        elif arch == "arm":
            variant = {"5": "v5", "6": "v6", "7": "v7", "8": "v8"}.get(variant or "7", variant)
        return Platform(os_name, arch, variant)


_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386"}
_DEFAULT_VARIANTS = {"arm64": ("8", "v8"), "amd64": ("1", "v1")}
#: What an index entry without a `platform` is taken to be (go-containerregistry's rule).
DEFAULT_PLATFORM = Platform("linux", "amd64")


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    artifact_type: str | None = None

    @classmethod
    def from_json(cls, obj: Any, *, where: str) -> Descriptor:
        from clamp.digest import parse_digest
        from clamp.errors import BadInputError

        if not isinstance(obj, dict):
            raise RegistryError("descriptor is not an object", where=where)
        try:
            digest = parse_digest(obj.get("digest", ""))
        except BadInputError as exc:
            raise RegistryError(f"descriptor: {exc.message}", where=where) from None
        size = obj.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise RegistryError("descriptor has no valid size", where=where)
        media_type = obj.get("mediaType")
        annotations = obj.get("annotations") or {}
        if not isinstance(annotations, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()):
            raise RegistryError("descriptor annotations must map strings to strings", where=where)
        platform = _platform_of(obj.get("platform"), where)
        artifact_type = obj.get("artifactType")
        return cls(
            media_type=media_type if isinstance(media_type, str) else "",
            digest=digest, size=size, annotations=dict(annotations), platform=platform,
            artifact_type=artifact_type if isinstance(artifact_type, str) else None,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest),
                               "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.platform:
            plat = {"architecture": self.platform.architecture, "os": self.platform.os}
            if self.platform.variant:
                plat["variant"] = self.platform.variant
            out["platform"] = plat
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


def _platform_of(plat: Any, where: str) -> Platform | None:
    """A descriptor's `platform` as Go decodes it into the image-spec struct: absent or null is
    no platform; an object is a platform even when `os` or `architecture` is missing or null
    (Go leaves them empty: `Manifest.platform_child` refuses such an entry, which runtimes read
    differently); a value of another JSON type is an error, as Go's decoder refuses the whole
    document."""
    if plat is None:
        return None
    fields = {name: plat.get(name) for name in ("os", "architecture", "variant")} \
        if isinstance(plat, dict) else None
    if fields is None or not all(v is None or isinstance(v, str) for v in fields.values()):
        raise RegistryError("descriptor platform is not an object of strings (a runtime "
                            "refuses the document)", where=where)
    return Platform(fields["os"] or "", fields["architecture"] or "", fields["variant"] or None)


@dataclass(frozen=True)
class Manifest:
    """A manifest: exact bytes, their digest, the media type, and a parsed view."""

    raw: bytes
    digest: Digest
    media_type: str
    body: dict[str, Any]

    @classmethod
    def parse(cls, raw: bytes, *, content_type: str | None, where: str,
              algorithm: str = "sha256") -> Manifest:
        """Hash `raw` and read it as a runtime (Go) reads it, or raise `RegistryError`.

        The digest is the bytes'; the parsed view must be the one containerd and docker act on,
        since clamp verifies the child they would pull: the strict reader refuses keys Go could
        take for one field (`"Manifests"` after `"manifests"`), `go_view` reads a lone
        `"Platform"` as Go does, and a document whose type is ambiguous is refused (below).
        """
        if len(raw) > MAX_MANIFEST_BYTES:
            raise RegistryError(f"manifest larger than {MAX_MANIFEST_BYTES} bytes", where=where)
        body = read_document(raw, what="manifest", where=where)
        declared = body.get("mediaType")
        header = (content_type or "").split(";")[0].strip()
        media_type = declared if isinstance(declared, str) and declared else header
        if not media_type:
            media_type = OCI_INDEX if "manifests" in body else OCI_MANIFEST
        # The body's mediaType is covered by the digest, the Content-Type header is not: when
        # they disagree (some proxies and older registries relabel), the body wins.
        _check_unambiguous(body, media_type, where)
        if media_type in INDEX_TYPES and not isinstance(body.get("manifests"), list):
            raise RegistryError("index has no manifests list", where=where)
        if media_type in IMAGE_TYPES and not isinstance(body.get("layers"), list):
            raise RegistryError("image manifest has no layers list", where=where)
        return cls(raw=raw, digest=digest_of(raw, algorithm), media_type=media_type, body=body)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def _descriptors(self, key: str) -> list[Descriptor]:
        items = self.body.get(key) or []
        if not isinstance(items, list):
            raise RegistryError(f"manifest field {key} is not a list", where=str(self.digest))
        return [Descriptor.from_json(item, where=f"{self.digest} {key}[{i}]")
                for i, item in enumerate(items)]

    @property
    def layers(self) -> list[Descriptor]:
        return self._descriptors("layers")

    @property
    def manifests(self) -> list[Descriptor]:
        return self._descriptors("manifests")

    @property
    def config(self) -> Descriptor | None:
        cfg = self.body.get("config")
        return Descriptor.from_json(cfg, where=f"{self.digest} config") if cfg else None

    @property
    def subject(self) -> Descriptor | None:
        subj = self.body.get("subject")
        return Descriptor.from_json(subj, where=f"{self.digest} subject") if subj else None

    @property
    def artifact_type(self) -> str | None:
        value = self.body.get("artifactType")
        if isinstance(value, str):
            return value
        cfg = self.body.get("config")
        if isinstance(cfg, dict) and isinstance(cfg.get("mediaType"), str):
            return str(cfg["mediaType"])
        return None

    @property
    def annotations(self) -> dict[str, str]:
        ann = self.body.get("annotations") or {}
        return {k: v for k, v in ann.items() if isinstance(k, str) and isinstance(v, str)} \
            if isinstance(ann, dict) else {}

    def platform_child(self, platform: Platform) -> Descriptor | None:
        """The child manifest a runtime on `platform` would pull from an index.

        Platforms are compared normalized (`Platform.normalized`). A variant asked for must
        match; without one, an entry of the default variant is preferred to the first of the
        others (linux/arm picks arm/v7 over an arm/v6 listed before it). An entry without a
        platform counts as linux/amd64 (go-containerregistry's rule) — but containerd takes a
        platformless entry for *any* platform and tries it last, so an index with one beside
        another candidate is read two ways (ggcr pulls the one listed first, containerd the
        platformed one) and is refused rather than guessed at.
        """
        want = platform.normalized()
        first: Descriptor | None = None
        exact: Descriptor | None = None
        platformless = platformed = False
        for desc in self.manifests:
            if desc.platform is not None and not (desc.platform.os and
                                                  desc.platform.architecture):
                # Session 13: taken for no platform (so linux/amd64), clamp verified this entry
                # where go-containerregistry pulls another (an empty os matches nothing there)
                # and containerd reads the host's os: three readings of one entry.
                raise RegistryError(f"index entry {desc.digest} has a platform without an os "
                                    "or architecture: runtimes read it differently (containerd "
                                    "takes the host's os, go-containerregistry none)",
                                    where=str(self.digest))
            have = (desc.platform or DEFAULT_PLATFORM).normalized()
            platformless = platformless or desc.platform is None
            if (have.os, have.architecture) != (want.os, want.architecture):
                continue
            platformed = platformed or desc.platform is not None
            if have.variant == want.variant and exact is None:
                exact = desc
            if platform.variant is None and first is None:
                first = desc
        if platformless and platformed:
            raise RegistryError(f"index lists a manifest without a platform beside a {platform} "
                                "one: runtimes disagree on which to pull", where=str(self.digest))
        return exact or (first if platform.variant is None else None)


def read_document(raw: bytes, *, what: str, where: str) -> dict[str, Any]:
    """`raw` as a JSON object in Go's view (`go_view`), through the strict reader."""
    try:
        body = loads_strict(raw, limit=MAX_MANIFEST_BYTES)
    except StrictJSONError as exc:
        raise RegistryError(f"{what} is not valid JSON ({exc})", where=where) from None
    if not isinstance(body, dict):
        raise RegistryError(f"{what} is not a JSON object", where=where)
    view: dict[str, Any] = go_view(body)
    return view


#: The fields of the distribution and image-spec structs that clamp reads, by Go's folding of
#: their names: Go fills `MediaType` from `"MEDIATYPE"` or `"mediatype"` as well.
_FIELDS: dict[str, str] = {case_fold(name): name for name in (
    "schemaVersion", "mediaType", "artifactType", "config", "layers", "manifests", "subject",
    "annotations", "digest", "size", "urls", "platform", "architecture", "os", "os.version",
    "os.features", "variant", "features", "data", "fsLayers")}
#: Go maps, not structs: their keys are case-sensitive to Go and are kept as they are.
_MAPS = frozenset({"annotations"})


def go_view(value: Any) -> Any:
    """`value` with every known struct field under its canonical spelling, as Go's
    encoding/json would fill the struct (a lone `"Platform"` is the platform). The strict reader
    has already refused objects where two keys fold to one field, so nothing collides."""
    if isinstance(value, list):
        return [go_view(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = _FIELDS.get(case_fold(str(key))) or str(key)
        out[name] = item if name in _MAPS else go_view(item)
    return out


def _check_unambiguous(body: dict[str, Any], media_type: str, where: str) -> None:
    """Refuse what containerd refuses since CVE-2021-41190: a document a runtime could take for
    an index or for an image (`manifests` beside `config`/`layers`, an index type carrying
    layers, an image type carrying manifests), and Docker's schema 1 (`fsLayers`), whose digest
    is not the digest of its bytes."""
    if body.get("fsLayers") is not None or body.get("schemaVersion") == 1:
        raise RegistryError("Docker schema 1 manifests are not supported (their digest is not "
                            "the digest of the bytes served)", where=where)
    has_index = bool(body.get("manifests"))
    has_image = body.get("config") is not None or bool(body.get("layers"))
    if (has_index and has_image) or (media_type in INDEX_TYPES and has_image) or (
            media_type in IMAGE_TYPES and has_index):
        raise RegistryError(f"manifest is both an index and an image manifest ({media_type} "
                            "with manifests beside config/layers): a runtime could read it "
                            "either way", where=where)


def encode_json(body: dict[str, Any]) -> bytes:
    """Compact, stable JSON for manifests clamp writes itself (demo images, signatures)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
