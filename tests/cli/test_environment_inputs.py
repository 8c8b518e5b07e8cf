"""Environment variables clamp reads for registry access, when they are wrong: a one-line error
that names the variable, exit 64, no traceback, and nothing sent anywhere.

The reference names ghcr.io, but no test reaches the network: each failure happens before the
first connection (the CA bundle is loaded before connecting, the proxy when the pool is built).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.cli.main import app, invoke
from clamp.trust.keys import PublicKey

IMAGE = "ghcr.io/rocm/dev:6.4.4-ubuntu-22.04"


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    path = tmp_path / "k.pub"
    path.write_bytes(PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem)
    return path


def _verify(pub: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = invoke(app, ["verify", "--image", IMAGE, "--key", str(pub)], prog_name="clamp")
    return code, capsys.readouterr().err


@pytest.mark.parametrize("content", [None, b"not a certificate\n"], ids=["missing", "junk"])
def test_unloadable_ssl_cert_file(content: bytes | None, pub: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_bytes(content)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    code, err = _verify(pub, capsys)
    assert code == 64, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(bundle) in err and "SSL_CERT_FILE" in err


def test_unloadable_ssl_cert_file_behind_a_proxy(pub: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Behind a proxy httpx's own transport is used; the CA bundle is still clamp's to load."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    code, err = _verify(pub, capsys)
    assert code == 64, err
    assert err.count("\n") == 1 and "SSL_CERT_FILE" in err


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "ALL_PROXY"])
def test_proxy_with_a_scheme_httpx_cannot_use(variable: str, pub: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(variable, "ftp://proxy.example:21")
    code, err = _verify(pub, capsys)
    assert code == 64, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "unusable proxy" in err and variable in err  # the variable that names it


def test_unknown_transport(pub: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLAMP_HTTP_TRANSPORT", "curl")
    code, err = _verify(pub, capsys)
    assert code == 64, err
    assert err.count("\n") == 1 and "CLAMP_HTTP_TRANSPORT" in err


def test_outputs_that_are_not_regular_files_are_bad_input(tmp_path: Path) -> None:
    """A directory, or a device such as /dev/full, is never renamed over: one line, exit 64,
    and nothing replaced."""
    from clamp.atomic import write_atomic
    from clamp.errors import BadInputError

    folder = tmp_path / "adir"
    folder.mkdir()
    for target in (folder, Path("/dev/full"), Path("")):
        with pytest.raises(BadInputError, match="not a regular file"):
            write_atomic(target, "x")
    assert folder.is_dir() and Path("/dev/full").is_char_device()
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    # Never through a link (red team 11): the link and its target stay as they were.
    with pytest.raises(BadInputError, match="symbolic link"):
        write_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "old"
    write_atomic(real, "new")  # its target, named, is written
    assert real.read_text() == "new"


def test_github_output_that_cannot_be_appended_is_bad_input(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from clamp.cli.output import gha_set_outputs, gha_step_summary
    from clamp.errors import BadInputError

    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path))
    with pytest.raises(BadInputError, match="GITHUB_OUTPUT"):
        gha_set_outputs({"image": "x"})
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))
    with pytest.raises(BadInputError, match="GITHUB_STEP_SUMMARY"):
        gha_step_summary("x")


def test_endless_inputs_are_read_only_to_their_bound(capsys: pytest.CaptureFixture[str]) -> None:
    """`stat` says 0 bytes for a character device: a matrix or key named /dev/zero is read up to
    its bound and refused, not read until memory runs out."""
    assert invoke(app, ["matrix", "validate", "/dev/zero"], prog_name="clamp") == 64
    assert "larger than" in capsys.readouterr().err
    assert invoke(app, ["verify", "--image", "oci:/nonexistent/x:1", "--key", "/dev/zero"],
                  prog_name="clamp") == 64
    assert "key larger than" in capsys.readouterr().err


def test_an_unusable_trusted_root_is_bad_input_before_any_registry(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for content in (b"{}", b"\x00\xff", b"[" * 100_000):
        root = tmp_path / "root.json"
        root.write_bytes(content)
        code = invoke(app, ["verify", "--image", "oci:/nonexistent/x:1", "--certificate-identity",
                            "a", "--certificate-oidc-issuer", "b", "--trusted-root", str(root)],
                      prog_name="clamp")
        err = capsys.readouterr().err
        assert code == 64 and "unusable trusted root" in err and err.count("\n") == 1, err
