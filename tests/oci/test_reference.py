"""Reference and digest parsing, against the distribution grammar's documented behaviour."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.digest import is_digest, parse_digest, sha256_digest, verify_bytes
from clamp.errors import BadInputError, DigestMismatchError
from clamp.oci.reference import is_loopback_host, parse_reference
from clamp.oci.store import parse_image_ref

HEX = "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag"),
    [
        ("ubuntu", "docker.io", "library/ubuntu", "latest"),
        ("rocm/dev-ubuntu-22.04:6.4", "docker.io", "rocm/dev-ubuntu-22.04", "6.4"),
        ("docker.io/ubuntu:22.04", "docker.io", "library/ubuntu", "22.04"),
        ("index.docker.io/library/ubuntu", "docker.io", "library/ubuntu", "latest"),
        ("ghcr.io/rocm/dev:6.4.4-ubuntu-22.04", "ghcr.io", "rocm/dev", "6.4.4-ubuntu-22.04"),
        ("localhost/foo", "localhost", "foo", "latest"),
        ("localhost:5000/a/b/c:t", "localhost:5000", "a/b/c", "t"),
        ("127.0.0.1:5000/x:1", "127.0.0.1:5000", "x", "1"),
        ("[::1]:5000/x", "[::1]:5000", "x", "latest"),
        ("Registry/x", "Registry", "x", "latest"),
        ("my-registry.example.com:443/org/img_a__b.c-d:v1.0_rc-1", "my-registry.example.com:443",
         "org/img_a__b.c-d", "v1.0_rc-1"),
    ],
)
def test_parses_like_distribution(text: str, registry: str, repository: str, tag: str) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, None)


def test_tag_and_digest_together_keep_both_and_digest_wins() -> None:
    ref = parse_reference(f"ghcr.io/rocm/dev:6.4@sha256:{HEX}")
    assert ref.tag == "6.4"
    assert str(ref.digest) == f"sha256:{HEX}"
    assert ref.identifier == f"sha256:{HEX}"
    assert str(ref) == f"ghcr.io/rocm/dev:6.4@sha256:{HEX}"


def test_digest_only_has_no_tag() -> None:
    ref = parse_reference(f"ghcr.io/rocm/dev@sha256:{HEX}")
    assert ref.tag is None


@pytest.mark.parametrize(
    "text",
    ["", " ubuntu", "upper/Case", "ghcr.io/Rocm/dev", "ghcr.io/rocm/dev:", "ghcr.io/rocm/dev:-x",
     "ghcr.io/rocm//dev", f"ghcr.io/rocm/dev@sha256:{HEX[:-1]}", "ghcr.io/rocm/dev@sha256:zz",
     "ghcr.io/rocm/dev:" + "t" * 129, "a/" * 200 + "b", "ghcr.io/x@md5:abcd"],
)
def test_rejects_malformed_references(text: str) -> None:
    with pytest.raises(BadInputError):
        parse_reference(text, where="test")


def test_error_is_one_line_and_names_where() -> None:
    with pytest.raises(BadInputError) as info:
        parse_reference("bad\nref", where="ci/rocm_matrix.yml")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("ci/rocm_matrix.yml: ")


_component = st.from_regex(r"\A[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,8}){0,2}\Z")
_tag = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z")


@given(host=st.sampled_from(["ghcr.io", "localhost:5000", "r.example.com", "127.0.0.1:1"]),
       path=st.lists(_component, min_size=1, max_size=4), tag=_tag,
       hexpart=st.from_regex(r"\A[0-9a-f]{64}\Z"), with_digest=st.booleans())
def test_round_trips(host: str, path: list[str], tag: str, hexpart: str,
                     with_digest: bool) -> None:
    text = f"{host}/{'/'.join(path)}:{tag}" + (f"@sha256:{hexpart}" if with_digest else "")
    ref = parse_reference(text)
    assert str(ref) == text
    assert parse_reference(str(ref)) == ref


@given(st.text(max_size=80))
def test_never_crashes_on_arbitrary_text(text: str) -> None:
    try:
        parse_reference(text)
    except BadInputError as exc:
        assert "\n" not in str(exc)


@given(st.binary(max_size=256))
def test_digest_of_bytes_verifies(data: bytes) -> None:
    digest = sha256_digest(data)
    assert digest.hex == hashlib.sha256(data).hexdigest()
    assert verify_bytes(data, str(digest), what="x") == digest
    with pytest.raises(DigestMismatchError):
        verify_bytes(data + b"!", digest, what="x")


@given(st.text(max_size=140))
def test_digest_parsing_accepts_exactly_the_oci_forms(text: str) -> None:
    ok = is_digest(text)
    try:
        parse_digest(text)
        parsed = True
    except BadInputError:
        parsed = False
    assert ok == parsed
    if ok:
        algo, hexpart = text.split(":")
        assert len(hexpart) == {"sha256": 64, "sha512": 128}[algo]
        assert hexpart == hexpart.lower()


@pytest.mark.parametrize("bad", ["sha256:zz", "sha256:12", "sha256:" + "A" * 64, "SHA256:" + HEX,
                                 "sha256:" + HEX + "0", "sha384:" + HEX, "sha256-" + HEX])
def test_malformed_digests_rejected(bad: str) -> None:
    with pytest.raises(BadInputError):
        parse_digest(bad)


def test_sha512_accepted() -> None:
    assert parse_digest("sha512:" + "b" * 128).algorithm == "sha512"


def test_layout_references() -> None:
    ref = parse_image_ref("oci:/tmp/layout:6.4")
    assert (ref.registry, ref.repository, ref.tag) == ("oci:/tmp/layout", "", "6.4")
    assert str(ref) == "oci:/tmp/layout:6.4"
    ref = parse_image_ref(f"oci:rel/dir@sha256:{HEX}")
    assert ref.tag is None and ref.registry == "oci:rel/dir"


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("localhost:5000", True), ("127.0.0.1:80", True), ("127.9.9.9", True),
    ("[::1]:5000", True), ("ghcr.io", False), ("localhost.evil.com", False), ("10.0.0.1", False),
    ("128.0.0.1", False),
    # DNS names, not addresses: they resolve wherever their owner points them
    ("127.0.0.1.nip.io", False), ("127.evil.com", False), ("127.0.0.1.evil.com:5000", False),
    ("127.0.0.1.", False), ("[::1.evil]:5000", False), ("localhost.", False),
    ("127.255.255.254:443", True), ("[0:0:0:0:0:0:0:1]:5000", True)])
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize("ref", ["127.0.0.1:99999/x:y", "[::1]:99999/x:y", "localhost:0/x:y",
                                 "300.1.1.1:1/x:y", "999.999.999.999/x:y", "[::::]:1/x:y",
                                 "[.]:1/x:y", "[1.2.3.4]:1/x:y"])
def test_hosts_no_connection_could_use_are_bad_references(ref: str) -> None:
    """Ports outside 1-65535 and impossible IP addresses: bad input here, not a crash when the
    connection is attempted."""
    with pytest.raises(BadInputError, match="bad registry host"):
        parse_reference(ref)


@pytest.mark.parametrize("ref", ["127.0.0.1:5000/x:y", "[::1]:5000/x:y", "10.0.0.1/x:y",
                                 "registry.example.com:443/rocm/dev:6.4", "localhost:65535/x:y"])
def test_real_hosts_still_parse(ref: str) -> None:
    assert parse_reference(ref).repository in ("x", "rocm/dev")
