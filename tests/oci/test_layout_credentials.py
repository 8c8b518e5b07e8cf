"""A layout is a folder: no credential store, docker config or `--registry-*` flag is ever
consulted for it, however the reference reached the store (an `oci:` image, a matrix's relative
`oci:DIR`, the CLI with credential flags given). And a layout without a path is one line of bad
input wherever it is spelt.

Credentials are looked up only by `RegistryPool.client` (clamp.oci.pool.credentials_for), so a
lookup that fails the test there proves no code path reaches it for a layout.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.cli.main import app, invoke
from clamp.demo.images import put_image
from clamp.errors import BadInputError
from clamp.location import Layout, Registry, parse_location
from clamp.oci.auth import Credentials
from clamp.oci.layout import LayoutStore
from clamp.oci.pool import ClientOptions
from clamp.oci.reference import location_reference, parse_image_ref
from clamp.oci.resolve import resolve
from clamp.oci.store import Stores
from clamp.trust.keys import PublicKey


@pytest.fixture
def no_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every credential lookup, recorded and refused."""
    asked: list[str] = []

    def refuse(registry: str, env: object = None) -> Credentials | None:
        asked.append(registry)
        raise AssertionError(f"credentials looked up for {registry!r}")

    monkeypatch.setattr("clamp.oci.pool.credentials_for", refuse)
    return asked


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    root = tmp_path / "layout"
    asyncio.run(put_image(LayoutStore(root), "rocm/dev", "6.4", version="6.4", os_name="u"))
    return root


def test_reading_a_layout_never_looks_up_credentials(layout: Path, no_lookups: list[str]) -> None:
    refs = [parse_image_ref(f"oci:{layout / 'rocm/dev'}:6.4"),
            location_reference("oci:layout", "rocm/dev", "6.4", base=layout.parent, where="m")]

    async def run() -> None:
        # Credentials handed in for a registry are not given to a layout either.
        options = ClientOptions(credentials={str(layout): Credentials("u", "p")})
        async with Stores(options) as stores:
            for ref in refs:
                assert isinstance(ref.location, Layout)
                assert (await resolve(stores.open(ref), ref)).digest is not None
            assert not stores.pool._clients

    asyncio.run(run())
    assert no_lookups == []


def test_the_cli_with_credential_flags_looks_up_none_for_a_layout(
        layout: Path, tmp_path: Path, no_lookups: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "k.pub"
    key.write_bytes(PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem)
    code = invoke(app, ["verify", "--image", f"oci:{layout / 'rocm/dev'}:6.4", "--key", str(key),
                        "--registry-username", "u", "--registry-password", "p"],
                  prog_name="clamp")
    err = capsys.readouterr().err
    # It gets as far as the signature search (the image is unsigned), past any credential use.
    assert code not in (0, 64) and "no signature found" in err, err
    assert no_lookups == []


@pytest.mark.parametrize("host", ["oci.example.com", "ocireg.example:5000", "oci-mirror.local"])
def test_hosts_spelt_near_the_layout_are_registries(host: str, tmp_path: Path,
                                                    no_lookups: list[str]) -> None:
    """The one registry path that does look credentials up is taken for these hosts."""
    assert parse_location(host) == Registry(host)
    assert parse_image_ref(f"{host}/x:1").location == Registry(host)
    assert location_reference(host, "x", "1", base=tmp_path).location == Registry(host)
    with pytest.raises(AssertionError, match="credentials looked up"):
        Stores().open(parse_image_ref(f"{host}/x:1"))
    assert no_lookups == [host]


@pytest.mark.parametrize("parse", [
    lambda: parse_image_ref("oci:", where="--image"),
    lambda: parse_image_ref("oci::6.4", where="--image"),
    lambda: parse_location("oci:", where="ci/m.yml"),
    lambda: location_reference("oci:", "rocm/dev", "6.4", base=Path("/m"), where="ci/m.yml"),
])
def test_an_empty_layout_path_is_one_line_of_bad_input(parse: object) -> None:
    with pytest.raises(BadInputError) as caught:
        parse()  # type: ignore[operator]
    text = str(caught.value)
    assert "no path" in text and "\n" not in text and text.startswith(("--image: ", "ci/m.yml: "))


def test_the_cli_says_an_empty_layout_path_in_one_line(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    key = tmp_path / "k.pub"
    key.write_bytes(PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem)
    assert invoke(app, ["verify", "--image", "oci:", "--key", str(key)], prog_name="clamp") == 64
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no path" in err, err
