"""Where clamp meets a CI runner (issue 13): exit codes, several images, pin missing, tlog.

Through the real CLI (in-process `invoke`, and a subprocess where the process's own exit code
is the point) against the real docker-registry.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from clamp.exitcodes import MEANING, RESERVED, ExitCode
from tests.support.registry import RegistryHandle
from tests.update.helpers import Signer, clamp, native_matrix, new_signer, push

ROOT = Path(__file__).resolve().parents[2]
TAG = "6.4.4-ubuntu-22.04"
RECENT = (date.today() - timedelta(days=1)).isoformat()
NO_LOG = "--insecure-ignore-tlog"


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return new_signer(tmp_path / "keys")


# -- the exit code table ---------------------------------------------------------------------

def test_no_exit_code_is_a_crash_or_a_usage_error() -> None:
    assert not {int(code) for code in ExitCode} & RESERVED
    assert len({int(code) for code in ExitCode}) == len(ExitCode)  # distinct, no aliases


def test_readme_table_is_the_exit_code_table() -> None:
    """README's table lists exactly the codes of clamp.exitcodes, and says 1 and 2 are not
    clamp's; docs/verify.md documents the origin shim's table too."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Exit codes"):]
    section = section[:section.index("\n### ", 5)]
    rows = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", section, re.M))
    clamp_rows = {int(k): v for k, v in rows.items() if int(k) not in RESERVED}
    assert set(clamp_rows) == {int(code) for code in ExitCode}
    for code, meaning in MEANING.items():
        assert clamp_rows[int(code)].lower().startswith(meaning.split(":")[0].lower()), code
    assert {1, 2} <= {int(k) for k in rows}  # the reserved codes are named as not clamp's
    assert "verify_rocm_digest.py" in section
    assert "verify_rocm_digest.py" in (ROOT / "docs/verify.md").read_text()


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clamp", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120, check=False)


def test_usage_errors_exit_64_not_2(tmp_path: Path) -> None:
    for args in (["verify", "--no-such-flag"], ["no-such-command"], ["verify"]):
        proc = _run(args)
        assert proc.returncode == 64, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_clamp_debug_never_changes_the_code(tmp_path: Path) -> None:
    """A bad matrix is 64 with or without CLAMP_DEBUG=1 (it only adds detail)."""
    bad = tmp_path / "m.yml"
    bad.write_text("version: 1\nnot_a_key: 1\n")
    plain = _run(["verify", "--matrix", str(bad)])
    debug = _run(["verify", "--matrix", str(bad)], CLAMP_DEBUG="1")
    assert plain.returncode == debug.returncode == 64


def test_an_internal_error_is_70_with_and_without_clamp_debug(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]
                                                               ) -> None:
    import clamp.cli.verify_matrix_view as view

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(view, "run_verify_matrix", broken)
    assert clamp("verify", "--matrix", "x.yml") == 70
    monkeypatch.setenv("CLAMP_DEBUG", "1")
    capsys.readouterr()
    assert clamp("verify", "--matrix", "x.yml") == 70
    err = capsys.readouterr().err
    assert "Traceback" in err and "simulated bug" in err  # detail, same code


@pytest.mark.parametrize("code", [1, 2])
def test_a_stray_exit_1_or_2_is_reported_as_internal(code: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import clamp.cli.verify_matrix_view as view

    def exits(*args: object, **kwargs: object) -> int:
        raise SystemExit(code)

    monkeypatch.setattr(view, "run_verify_matrix", exits)
    assert clamp("verify", "--matrix", "x.yml") == 70


# -- several images --------------------------------------------------------------------------

def _images(registry: RegistryHandle, repo: str, signer: Signer) -> tuple[str, str, str]:
    good = push(registry.host, repo, "a", signer=signer)
    also = push(registry.host, repo, "b", signer=signer)
    push(registry.host, repo, "c", signer=None)
    name = f"{registry.host}/{repo}"
    assert good.digest != also.digest
    return f"{name}:a", f"{name}:b", f"{name}:c"


def test_every_image_is_verified_positional_and_repeated(
        registry: RegistryHandle, repo_name: str, signer: Signer,
        capsys: pytest.CaptureFixture[str]) -> None:
    a, b, unsigned = _images(registry, repo_name, signer)
    key = ("--key", str(signer.public_path), NO_LOG)
    capsys.readouterr()
    assert clamp("verify", *key, a, b) == 0
    err = capsys.readouterr().err
    assert err.count("verified: ") == 2 and f"{repo_name}" in err
    # The unsigned image fails the run wherever it stands: first, last, or through --image.
    for args in ([a, b, unsigned], [unsigned, a], ["--image", a, "--image", unsigned],
                 [a, "--image", unsigned]):
        capsys.readouterr()
        assert clamp("verify", *key, *args) == 4, args
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == len([x for x in args if x != "--image"]), lines
        assert sum(line.startswith("error: ") and ":c" in line for line in lines) == 1


def test_json_for_several_images_is_a_list(
        registry: RegistryHandle, repo_name: str, signer: Signer,
        capsys: pytest.CaptureFixture[str]) -> None:
    a, b, unsigned = _images(registry, repo_name, signer)
    capsys.readouterr()
    code = clamp("verify", "--json", "--key", str(signer.public_path), NO_LOG, a, unsigned, b)
    data = json.loads(capsys.readouterr().out)
    assert code == 4
    assert [item["verified"] for item in data] == [True, False, True]
    assert [item["reference"].rsplit(":", 1)[1] for item in data] == ["a", "c", "b"]
    capsys.readouterr()
    assert clamp("verify", "--json", "--key", str(signer.public_path), NO_LOG, a) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is True  # one image: the object


@pytest.mark.parametrize("flags", [["--version", "6.4.4"], ["--os", "x"], ["--dispatch"],
                                   ["--output", "p.json"], ["-o", "p.json"]])
def test_matrix_only_flags_with_images_are_refused(flags: list[str], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "k.pub"
    key.write_text("unused")
    capsys.readouterr()
    assert clamp("verify", "127.0.0.1:1/x/y:t", "--key", str(key), *flags) == 64
    assert flags[0] in capsys.readouterr().err
    assert not (Path.cwd() / "p.json").exists()


def test_images_and_matrix_together_are_refused(tmp_path: Path) -> None:
    assert clamp("verify", "ghcr.io/x/y:1", "--matrix", str(tmp_path / "m.yml")) == 64
    assert clamp("verify", "--insecure-ignore-tlog", "--matrix", str(tmp_path / "m.yml")) == 64


# -- tlog required by default ----------------------------------------------------------------

def test_key_signature_without_log_needs_the_opt_out(
        registry: RegistryHandle, repo_name: str, signer: Signer) -> None:
    a, _, _ = _images(registry, repo_name, signer)
    key = ("--key", str(signer.public_path))
    assert clamp("verify", *key, a) == 3  # like cosign: no log entry, no pass
    assert clamp("verify", *key, "--insecure-ignore-tlog", a) == 0
    assert clamp("verify", *key, "--insecure-ignore-tlog=true", a) == 0
    assert clamp("verify", *key, "--insecure-ignore-tlog=false", a) == 3
    assert clamp("verify", *key, "--require-tlog", a) == 3  # the old flag: now the default
    assert clamp("verify", *key, "--require-tlog", "--insecure-ignore-tlog", a) == 64


def test_library_policy_requires_the_log_by_default() -> None:
    from clamp.trust.policy import Policy

    assert Policy().require_tlog is True


def test_matrix_tlog_required_is_the_default_and_optional_opts_out(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path) -> None:
    image = push(registry.host, repo_name, TAG, signer=signer)
    text = native_matrix(registry.host, repo_name, signer.public_path, [
        {"version": "6.4.4", "digest": str(image.digest), "added": RECENT}])
    optional = tmp_path / "optional.yml"
    optional.write_text(text)
    default = tmp_path / "default.yml"
    default.write_text(text.replace("    tlog: optional         # key-signed, no log entry\n",
                                    ""))
    assert "tlog:" not in default.read_text()
    assert clamp("verify", "--matrix", str(optional), "-o", str(tmp_path / "a.json")) == 0
    assert clamp("verify", "--matrix", str(default), "-o", str(tmp_path / "b.json")) == 3


# -- a pin the registry no longer has: a finding, decided by the mode ------------------------

@pytest.mark.parametrize(("mode", "code", "decision"), [("strict", 8, "fail"),
                                                        ("warn", 0, "warn"),
                                                        ("auto_update", 8, "fail")])
def test_a_missing_pin_is_decided_by_the_mode(
        mode: str, code: int, decision: str, registry: RegistryHandle, repo_name: str,
        signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    push(registry.host, repo_name, TAG, signer=signer)
    gone = "sha256:" + "cd" * 32  # never pushed: the registry answers 404 for it
    matrix = tmp_path / "m.yml"
    text = native_matrix(registry.host, repo_name, signer.public_path, [
        {"version": "6.4.4", "digest": gone, "added": RECENT}])
    text = text.replace("policy: strict", f"policy: {mode}")
    if mode == "auto_update":
        text += "dispatch:\n  workflow: update-rocm.yml\n"
    matrix.write_text(text)
    out = tmp_path / "p.json"
    assert clamp("verify", "--matrix", str(matrix), "-o", str(out)) == code  # never 69
    (record,) = json.loads(out.read_text())["records"]
    assert record["policyDecision"] == decision
    assert any(f.startswith("pin-missing:") for f in record["findings"])


def test_a_platform_missing_from_the_index_is_a_pin_finding(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path) -> None:
    index = push(registry.host, repo_name, TAG, signer=signer, index=True)
    matrix = tmp_path / "m.yml"
    text = native_matrix(registry.host, repo_name, signer.public_path, [
        {"version": "6.4.4", "digest": str(index.digest), "added": RECENT}])
    matrix.write_text(text.replace("policy: strict", "policy: warn").replace(
        f"    added: {RECENT}\n", f"    added: {RECENT}\n    platform: linux/s390x\n"))
    out = tmp_path / "p.json"
    assert clamp("verify", "--matrix", str(matrix), "-o", str(out)) == 0
    (record,) = json.loads(out.read_text())["records"]
    assert record["policyDecision"] == "warn"
    assert any(f.startswith("pin-missing:") and "s390x" in f for f in record["findings"])


def test_an_unreachable_registry_is_still_69(signer: Signer, tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    matrix = tmp_path / "m.yml"
    matrix.write_text(native_matrix(f"127.0.0.1:{port}", "x/y", signer.public_path, [
        {"version": "6.4.4", "digest": "sha256:" + "a" * 64, "added": RECENT}]).replace(
            "policy: strict", "policy: warn"))
    assert clamp("verify", "--matrix", str(matrix), "-o", str(tmp_path / "p.json")) == 69


def test_a_registry_error_names_the_image_once(signer: Signer,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The error already says where it happened; the view must not say it a second time."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    image = f"127.0.0.1:{port}/x/y@sha256:{'a' * 64}"
    assert clamp("verify", image, "--key", str(signer.public_path), NO_LOG) == 69
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {image}: "), lines
    assert lines[0].count(image) == 1, lines[0]


# -- every command starts (the floors run this against the lowest allowed dependencies) ------

COMMANDS = [["verify"], ["verify-blob"], ["sign"], ["keygen"], ["resolve"], ["update"],
            ["demo"], ["matrix", "validate"], ["matrix", "migrate"], ["provenance", "check"],
            ["telemetry", "accumulate"], ["telemetry", "inspect"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_starts_and_shows_its_own_help(command: list[str]) -> None:
    """typer 0.12.5 with click 8.5.1 answered every command with the version and exit 0; a
    broken floor shows here as a missing Usage line or another exit code."""
    proc = _run([*command, "--help"])
    assert proc.returncode == 0, proc.stderr
    assert f"Usage: clamp {' '.join(command)}" in " ".join(proc.stdout.split())
    assert proc.stdout.strip() != "clamp 0.1.0"


def test_console_scripts_start() -> None:
    bin_dir = Path(sys.executable).parent
    for script, words in (("clamp", "Usage: clamp"), ("telemetry_inspect", "Usage:")):
        proc = subprocess.run([str(bin_dir / script), "--help"], capture_output=True,
                              text=True, timeout=120, check=False)
        assert proc.returncode == 0 and words in proc.stdout, (script, proc.stderr)
    version = subprocess.run([str(bin_dir / "clamp"), "--version"], capture_output=True,
                             text=True, timeout=120, check=False)
    assert version.returncode == 0 and version.stdout.startswith("clamp ")
