"""Image references, parsed as the distribution reference grammar does.

`ubuntu` means `docker.io/library/ubuntu:latest`; a first path component is a registry host
only when it contains `.` or `:`, is `localhost`, or has uppercase letters (Docker's rule);
`name:tag@digest` keeps both, and the digest wins when fetching. `parse_image_ref` also reads
`oci:PATH[:TAG][@DIGEST]`, an OCI layout (clamp.location owns that spelling): the reference
carries its typed location, and the store is chosen by that type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from clamp.digest import Digest, parse_digest
from clamp.errors import BadInputError, without_userinfo
from clamp.location import (
    Layout,
    Location,
    Registry,
    parse_layout_reference,
    parse_location,
)

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_MAX_NAME = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST_RE = re.compile(
    rf"^(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:.]+\])(?::[0-9]{{1,5}})?$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)  # the distribution grammar is ASCII


def _host_is_plausible(registry: str) -> bool:
    """A port in 1-65535, a bracketed host that is an IPv6 address, dotted digits that are an
    IPv4 address: what the grammar lets through but no connection could use."""
    import ipaddress

    host, port = registry, None
    if registry.startswith("["):
        host, _, rest = registry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
    elif ":" in registry:
        host, port = registry.rsplit(":", 1)
    if port is not None and not 1 <= int(port) <= 65535:
        return False
    if host.replace(".", "").isdigit():
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
    return True


@dataclass(frozen=True)
class Reference:
    location: Location
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def registry(self) -> str:
        """The location as users spell it (`host[:port]` or `oci:DIR`), for output only: what
        serves the image is decided by `location`'s type."""
        return str(self.location)

    @property
    def name(self) -> str:
        """`registry/repository`; for an OCI layout (`oci:DIR`) the layout's own directory."""
        if isinstance(self.location, Layout) and self.repository:
            return f"{self.registry.rstrip('/')}/{self.repository}"
        return f"{self.registry}/{self.repository}" if self.repository else self.registry

    @property
    def api_host(self) -> str:
        """The host that serves the /v2/ API (Docker Hub's differs from its name)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def identifier(self) -> str:
        """What to put after /manifests/: the digest when known, else the tag."""
        if self.digest is not None:
            return str(self.digest)
        return self.tag or "latest"

    def with_digest(self, digest: Digest) -> Reference:
        return replace(self, digest=digest)

    def with_tag(self, tag: str | None) -> Reference:
        return replace(self, tag=tag, digest=None)

    def __str__(self) -> str:
        text = self.name if self.repository else self.registry
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str, *, where: str | None = None) -> Reference:
    """Parse `[host[:port]/]path[:tag][@digest]` with Docker's defaults."""
    shown = without_userinfo(text)  # what an error line may repeat
    if not text or text != text.strip():
        raise BadInputError(f"invalid image reference {shown!r}: empty or padded", where=where)
    digest: Digest | None = None
    if "@" in text:
        text, digest_text = text.split("@", 1)
        try:
            digest = parse_digest(digest_text)
        except BadInputError as exc:
            raise BadInputError(f"invalid image reference {shown!r}: {exc.message}",
                                where=where) from None
    tag: str | None = None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1:]
        if not _TAG_RE.match(tag):
            raise BadInputError(f"invalid image reference {shown!r}: bad tag {tag!r}",
                                where=where)
    registry, path = _split_domain(text)
    if (not _HOST_RE.match(registry) or not _host_is_plausible(registry)
            or isinstance(parse_location(registry), Layout)):  # `oci:` is a layout's
        raise BadInputError(f"invalid image reference {shown!r}: bad registry host "
                            f"{registry!r}", where=where)
    if not _PATH_RE.match(path):
        raise BadInputError(f"invalid image reference {shown!r}: repository {path!r} must be "
                            "lowercase path components", where=where)
    if len(registry) + 1 + len(path) > _MAX_NAME:
        raise BadInputError(f"invalid image reference {shown[:60]!r}...: name longer than "
                            f"{_MAX_NAME} characters", where=where)
    if tag is None and digest is None:
        tag = "latest"
    return Reference(Registry(registry), repository=path, tag=tag, digest=digest)


def parse_image_ref(text: str, *, where: str | None = None) -> Reference:
    """A registry reference, or `oci:PATH[:TAG][@DIGEST]` for an OCI layout directory."""
    parts = parse_layout_reference(text, where=where)
    if parts is None:
        return parse_reference(text, where=where)
    layout, tag, digest = parts
    if tag is None and digest is None:
        tag = "latest"
    return Reference(layout, repository="", tag=tag, digest=digest)


def location_reference(registry: str, repository: str, tag: str, *, base: Path,
                       where: str | None = None) -> Reference:
    """A matrix entry's `registry`, `repository` and tag as one reference. A layout directory
    (`oci:DIR`) is relative to `base` (the matrix file's folder) and holds the repository as a
    sub-folder; a registry host goes through the reference grammar with Docker's defaults."""
    match parse_location(registry, base=base, where=where):
        case Layout(path=path):
            if ".." in repository.split("/"):
                raise BadInputError(f"invalid layout reference {registry!r}: repository "
                                    f"{repository!r} may not contain '..'", where=where)
            return Reference(Layout(str(Path(path) / repository)), "", tag)
        case Registry(host=host):
            return parse_reference(f"{host}/{repository}:{tag}", where=where)


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, name
    if registry == "index.docker.io":
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return registry, path


def is_loopback_host(host: str) -> bool:
    """True for hosts that may be spoken to over plain HTTP without being listed as insecure:
    `localhost` and loopback IP *addresses* (127.0.0.0/8, ::1). A name that only starts like one
    (`127.0.0.1.nip.io`, `127.evil.com`) is a DNS name its owner points anywhere, and gets the
    rule of any other host."""
    import ipaddress

    bare = host
    if bare.startswith("["):
        bare = bare[1:bare.index("]")] if "]" in bare else bare
    else:
        bare = bare.rsplit(":", 1)[0] if bare.count(":") == 1 else bare
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False
