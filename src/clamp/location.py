"""Where an image lives: a registry (`Registry(host)`) or an OCI image layout (`Layout(path)`).

The location is parsed once, where text comes in (a CLI flag, a matrix's `registry` field, an
image reference), and carried typed by `clamp.oci.reference.Reference`; the store, the
credentials and the record writers decide by its type, never by looking at a string again (the
way go-containerregistry picks its remote or layout package). This module is the only one that
knows the `oci:PATH` spelling of a layout, so the two kinds cannot be told apart differently in
two places: a host that merely starts with "oci" (`ocireg.example:5000`) is a registry, and
anything spelt `oci:...` is a layout. It sits in the kernel, below `oci/` and `matrix/`, so the
matrix schema's `registry` pattern is built from the same spelling (`LAYOUT_PREFIX`) without the
file format knowing the registry client. Import-light on purpose (the CLI parses references
before it loads the registry client).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clamp.digest import Digest, parse_digest
from clamp.errors import BadInputError

LAYOUT_PREFIX = "oci:"  # the one spelling of a layout location (the matrix schema reads it too)
_LAYOUT = LAYOUT_PREFIX
_URI = "oci://"  # the in-toto resource URI of an image in a registry


@dataclass(frozen=True)
class Registry:
    """A registry serving the distribution API, keyed as the registry client keys it."""

    host: str

    def __post_init__(self) -> None:
        if self.host.startswith(_LAYOUT):
            # Would be written back as a layout: the two kinds must never share a spelling.
            raise ValueError(f"registry host {self.host!r} is spelt like an OCI layout")

    def __str__(self) -> str:
        return self.host


@dataclass(frozen=True)
class Layout:
    """An OCI image layout directory on disk (index.json + blobs/), as the user spelt it."""

    path: str

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("an OCI layout needs a path")

    def __str__(self) -> str:
        return f"{_LAYOUT}{self.path}"


Location = Registry | Layout


def format_location(location: Location) -> str:
    """The spelling `parse_location` reads back: `host[:port]` or `oci:PATH`."""
    return str(location)


def parse_location(text: str, *, base: Path | None = None, where: str | None = None) -> Location:
    """A registry field (`host[:port]` or `oci:DIR`). A relative layout directory is joined to
    `base` when one is given (a matrix's layout is relative to the matrix file, like its key
    paths, so the two can move together); the host itself is checked by the reference grammar
    when a reference is built on it."""
    if not text.startswith(_LAYOUT):
        if not text:
            raise BadInputError("empty registry", where=where)
        return Registry(text)
    path = text[len(_LAYOUT):]
    if not path:
        raise BadInputError(f"invalid layout reference {text!r}: no path", where=where)
    return Layout(_joined(path, base))


def _joined(path: str, base: Path | None) -> str:
    if base is None or Path(path).is_absolute():
        return path
    return str(base / path)


def parse_layout_reference(text: str, *, base: Path | None = None, where: str | None = None
                           ) -> tuple[Layout, str | None, Digest | None] | None:
    """`oci:PATH[:TAG][@DIGEST]` as (layout, tag, digest); None when `text` is not spelt as a
    layout (it is then a registry reference, for `clamp.oci.reference` to parse). A `:` is a
    tag separator only when no `/` follows it, so `oci:/a:b/c` is the directory `/a:b/c`."""
    if not text.startswith(_LAYOUT):
        return None
    rest = text[len(_LAYOUT):]
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
    return Layout(_joined(rest, base)), tag, digest


def resource_uri(reference: str) -> str:
    """An image reference as an in-toto resource URI: a layout keeps its `oci:PATH` spelling
    (a file, not a network resource); a registry image becomes `oci://registry/repo@digest`."""
    return reference if reference.startswith(_LAYOUT) else f"{_URI}{reference}"
