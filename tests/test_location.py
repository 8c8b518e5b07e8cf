"""The typed location: a registry host is never read as a layout, a layout never as a host.

`oci:PATH` is the only spelling of a layout, parsed in one place (clamp.location); the
store, the credential flags, the demo and the VSA writer decide by the parsed type.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.errors import BadInputError
from clamp.location import (
    Layout,
    Registry,
    format_location,
    parse_layout_reference,
    parse_location,
    resource_uri,
)
from clamp.oci.layout import LayoutStore
from clamp.oci.reference import Reference, location_reference, parse_image_ref, parse_reference
from clamp.oci.registry import RegistryClient
from clamp.oci.store import Stores

HEX = "a" * 64
_LABEL = st.from_regex(r"[a-z](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
# Registry hosts as the matrix and the reference grammar accept them, biased towards names
# that begin like the layout spelling ("oci", "oci-x", "ocireg") without being it.
HOSTS = st.one_of(
    st.builds(lambda a, b: f"{a}.{b}", _LABEL, _LABEL),
    st.builds(lambda a, p: f"{a}:{p}", _LABEL.filter(lambda s: s != "oci"),
              st.integers(1, 65535)),
    st.builds(lambda a, b, p: f"oci{a}.{b}:{p}", _LABEL, _LABEL, st.integers(1, 65535)),
    st.sampled_from(["oci", "oci.example", "ocireg.example:5000", "oci-mirror.local",
                     "localhost", "localhost:5000", "[::1]:5000", "127.0.0.1:5000"]),
)
# Layout paths: anything but empty; `@` would start a digest in a whole reference.
PATHS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="@\x00"),
                min_size=1, max_size=40)
TAGS = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(HOSTS)
def test_a_registry_host_is_never_read_as_a_layout(host: str) -> None:
    location = parse_location(host)
    assert location == Registry(host)
    assert parse_location(format_location(location)) == location
    assert isinstance(parse_image_ref(f"{host}/rocm/dev:6.4").location, Registry) \
        or ("." not in host and ":" not in host and host != "localhost")  # Docker Hub's rule


@given(PATHS)
def test_a_layout_is_never_read_as_a_registry(path: str) -> None:
    location = parse_location(f"oci:{path}")
    assert location == Layout(path)
    assert parse_location(format_location(location)) == location
    assert not isinstance(location, Registry)


def _ends_like_a_tag(path: str) -> bool:
    _, sep, tail = path.rpartition(":")
    return bool(sep and tail and "/" not in tail)


@given(PATHS, TAGS)
def test_layout_references_round_trip(path: str, tag: str) -> None:
    """`oci:PATH:TAG` and `oci:PATH@DIGEST` read back as the reference they were written from.
    A `:` is a tag's only when no `/` follows it, so a path like `a:b` written without a tag
    reads back as `a` tagged `b` (as it always has): only such paths are left out there."""
    assert parse_image_ref(str(Reference(Layout(path), "", tag))) == \
        Reference(Layout(path), "", tag)
    pinned = Reference(Layout(path), "", None, parse_image_ref(f"x.io/r@sha256:{HEX}").digest)
    if not _ends_like_a_tag(path):
        assert parse_image_ref(str(pinned)) == pinned


@given(HOSTS.filter(lambda h: "." in h or ":" in h or h == "localhost"), TAGS)
def test_registry_references_round_trip(host: str, tag: str) -> None:
    ref = parse_image_ref(f"{host}/rocm/dev:{tag}")
    assert ref.location == Registry(host)
    assert parse_image_ref(str(ref)) == ref


def test_a_host_that_starts_with_oci_is_a_registry() -> None:
    ref = parse_image_ref("ocireg.example:5000/x:1")
    assert ref.location == Registry("ocireg.example:5000")
    assert (ref.repository, ref.tag, ref.name) == ("x", "1", "ocireg.example:5000/x")
    assert location_reference("ocireg.example:5000", "rocm/dev", "6.4",
                              base=Path("/m")).location == Registry("ocireg.example:5000")
    # Without a dot or port the first component is a Docker Hub namespace, as ever.
    assert parse_image_ref("ocireg/x:1").location == Registry("docker.io")


def test_the_layout_spelling_wins_over_a_host_named_oci_with_a_port() -> None:
    """`oci:5000/x` has always been the layout `5000/x`; the grammar cannot build a registry
    spelt like a layout, so nothing could write one back as something else."""
    assert parse_image_ref("oci:5000/x").location == Layout("5000/x")
    with pytest.raises(BadInputError, match="bad registry host"):
        parse_reference("oci:5000/x:1")
    with pytest.raises(ValueError, match="spelt like an OCI layout"):
        Registry("oci:5000")


@pytest.mark.parametrize("text", ["oci:", "oci::6.4", f"oci:@sha256:{HEX}", f"oci::t@sha256:{HEX}"])
def test_a_layout_needs_a_path(text: str) -> None:
    with pytest.raises(BadInputError, match="no path"):
        parse_image_ref(text, where="--image")
    with pytest.raises(ValueError, match="needs a path"):
        Layout("")


def test_empty_registry_fields_are_bad_input() -> None:
    with pytest.raises(BadInputError, match="no path"):
        parse_location("oci:", where="m.yml")
    with pytest.raises(BadInputError, match="empty registry"):
        parse_location("", where="m.yml")


def test_not_a_layout_spelling_is_left_to_the_registry_grammar() -> None:
    assert parse_layout_reference("ghcr.io/rocm/dev:6.4") is None
    assert parse_layout_reference("OCI:/x") is None  # the spelling is exact, like Docker's
    assert parse_layout_reference("oci:/a:b/c") == (Layout("/a:b/c"), None, None)


def test_a_matrix_layout_is_relative_to_the_matrix_folder(tmp_path: Path) -> None:
    base = tmp_path / "ci"
    rel = location_reference("oci:../layout", "rocm/dev", "6.4", base=base, where="m")
    assert rel == Reference(Layout(str(base / "../layout/rocm/dev")), "", "6.4")
    absolute = location_reference(f"oci:{tmp_path}/l", "r", "t", base=base)
    assert absolute.location == Layout(f"{tmp_path}/l/r")
    assert location_reference("ghcr.io", "rocm/dev", "6.4", base=base) == \
        parse_reference("ghcr.io/rocm/dev:6.4")
    assert location_reference("myhub", "x", "1", base=base).location == Registry("docker.io")


def test_a_matrix_layout_repository_may_not_climb_out(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"may not contain '\.\.'"):
        location_reference("oci:layout", "../../etc", "t", base=tmp_path, where="m")


def test_stores_dispatch_on_the_type_and_a_layout_never_reaches_the_pool(tmp_path: Path) -> None:
    async def run() -> None:
        async with Stores() as stores:
            store = stores.open(Reference(Layout(str(tmp_path)), "r", "t"))
            assert isinstance(store, LayoutStore) and store.root == tmp_path
            assert stores.open(parse_image_ref(f"oci:{tmp_path}:t")) is store
            assert not stores.pool._clients  # no client, so no credentials, for a layout
            assert isinstance(stores.open(parse_image_ref("ocireg.example:5000/x:1")),
                              RegistryClient)

    asyncio.run(run())


def test_resource_uris() -> None:
    assert resource_uri("ghcr.io/rocm/dev@sha256:" + HEX) == "oci://ghcr.io/rocm/dev@sha256:" + HEX
    assert resource_uri("ocireg.example:5000/x@sha256:" + HEX).startswith("oci://ocireg.")
    assert resource_uri("oci:../layout/rocm/dev@sha256:" + HEX) == \
        "oci:../layout/rocm/dev@sha256:" + HEX


@given(st.sampled_from(["oci:", "OCI:", "oci", "ocireg.example", "oci.example:5000", "oci:/"])
       .flatmap(lambda head: st.text(alphabet="abz09._-/:", max_size=12).map(lambda t: head + t)))
def test_matrix_schema_and_parser_agree_on_what_a_layout_is(text: str) -> None:
    """The matrix schema's `registry` pattern and `parse_location` read the one kernel spelling:
    a field the schema accepts as a layout is parsed as a Layout, and a host as a Registry."""
    from clamp.location import LAYOUT_PREFIX
    from clamp.matrix.models import REGISTRY_PATTERN
    from clamp.pattern import compile_pattern

    accepted = compile_pattern(REGISTRY_PATTERN).search(text)
    if not accepted:
        return
    kind = type(parse_location(text))
    assert (kind is Layout) == text.startswith(LAYOUT_PREFIX)
