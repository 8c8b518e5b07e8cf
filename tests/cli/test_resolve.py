"""`clamp resolve` end to end: the printed reference, JSON, GitHub outputs, and --check."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from tests.support.pushing import RegistryPusher, push_image
from tests.support.registry import RegistryHandle

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def clamp(*args: str) -> int:
    return invoke(app, list(args), prog_name="clamp")


def test_pinned_resolve_prints_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert clamp("resolve", "--matrix", str(EXAMPLES / "rocm_matrix.yml")) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("ghcr.io/rocm/dev:6.4.4-ubuntu-24.04@sha256:")


def test_json_and_github_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "gh_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    assert clamp("resolve", "-m", str(EXAMPLES / "rocm_matrix.yml"), "--json",
                 "--version", "6.3.4", "--os", "ubuntu-22.04") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["version"] == "6.3.4" and data["os"] == "ubuntu-22.04"
    assert data["reference"].endswith(data["digest"])
    assert data["reason"]
    lines = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert lines == {"image": data["reference"], "digest": data["digest"], "version": "6.3.4",
                     "os": "ubuntu-22.04"}


def test_strategy_matrix_lists_every_pinned_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert clamp("resolve", "-m", str(EXAMPLES / "rocm_matrix.yml"), "--strategy-matrix") == 0
    include = json.loads(capsys.readouterr().out)["include"]
    assert {(i["version"], i["os"]) for i in include} == {
        ("6.4.4", "ubuntu-24.04"), ("6.4.4", "ubuntu-22.04"), ("6.3.4", "ubuntu-22.04")}
    assert all(i["image"].endswith("@" + i["digest"]) for i in include)


def test_original_layout_skips_placeholder_with_warning(capsys: pytest.CaptureFixture[str]) -> None:
    assert clamp("resolve", "-m", str(EXAMPLES / "original/ci/rocm_matrix.yml")) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("ghcr.io/rocm/dev:")
    assert "TODO_NEXT_RELEASE" in captured.err


@pytest.mark.parametrize(("content", "needle"), [
    ("version: 1\ndefaults: [", "yaml"),
    ((EXAMPLES / "rocm_matrix.yml").read_text() + "\nbogus: 1\n", "bogus"),
])
def test_bad_matrix_is_one_line_bad_input(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "m.yml"
    path.write_text(content)
    proc = subprocess.run([sys.executable, "-m", "clamp", "resolve", "-m", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 64
    assert "Traceback" not in proc.stderr
    assert str(path) in proc.stderr
    assert needle in proc.stderr.lower()


def test_missing_matrix_file(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "clamp", "resolve", "-m",
                           str(tmp_path / "absent.yml")], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 64
    assert proc.stderr.count("\n") == 1 and "absent.yml" in proc.stderr


def _matrix(tmp_path: Path, host: str, repo: str,
            entries: list[tuple[str, str, str, date]]) -> Path:
    images = "\n".join(
        f"  - version: \"{v}\"\n    os: {o}\n    digest: {d}\n    added: {a.isoformat()}"
        for v, o, d, a in entries)
    path = tmp_path / "matrix.yml"
    path.write_text(f"""version: 1
defaults:
  registry: "{host}"
  repository: {repo}
  tag: "{{version}}-{{os}}"
  policy: warn
  digest_ttl_days: 30
resolve:
  default: {{version: "1.0", os: a}}
images:
{images}
""")
    return path


def test_check_reports_current_drift_missing_and_stale(
        registry: RegistryHandle, repo_name: str, tmp_path: Path,
        make_pusher: Callable[..., RegistryPusher], capsys: pytest.CaptureFixture[str]) -> None:
    pusher = make_pusher(registry)
    current = push_image(pusher, repo_name, "1.0-a")
    old = push_image(pusher, repo_name, "1.0-b")
    moved = push_image(pusher, repo_name, "1.0-b")  # the tag moves on
    assert old.digest != moved.digest
    today = date.today()
    path = _matrix(tmp_path, registry.host, repo_name, [
        ("1.0", "a", current.digest, today),
        ("1.0", "b", old.digest, today),
        ("1.0", "c", current.digest, today),
        ("2.0", "a", current.digest, today - timedelta(days=90)),
    ])
    pusher.push_manifest(repo_name, "2.0-a", current.manifest, current.media_type)
    code = clamp("resolve", "-m", str(path), "--check", "--json")
    data = json.loads(capsys.readouterr().out)
    states = {e["entry"]: (e["state"], e["stale"]) for e in data["entries"]}
    assert states == {"1.0/a": ("current", False), "1.0/b": ("drift", False),
                      "1.0/c": ("missing", False), "2.0/a": ("current", True)}
    drift = next(e for e in data["entries"] if e["entry"] == "1.0/b")
    assert drift["current"] == moved.digest
    assert code == 8


def test_check_stale_only_is_a_warning(registry: RegistryHandle, repo_name: str, tmp_path: Path,
                                       make_pusher: Callable[..., RegistryPusher],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    pushed = push_image(make_pusher(registry), repo_name, "1.0-a")
    path = _matrix(tmp_path, registry.host, repo_name,
                   [("1.0", "a", pushed.digest, date.today() - timedelta(days=31))])
    assert clamp("resolve", "-m", str(path), "--check", "--json") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["status"] == "warnings"
    assert "stale pins" in captured.err and "1.0/a" in captured.err


def test_check_unreachable_registry_is_registry_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = _matrix(tmp_path, f"127.0.0.1:{port}", "x/y", [("1.0", "a", "sha256:" + "a" * 64,
                                                            date.today())])
    assert clamp("resolve", "-m", str(path), "--check") == 69


def test_check_annotates_in_github_actions(
        registry: RegistryHandle, repo_name: str, tmp_path: Path,
        make_pusher: Callable[..., RegistryPusher], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    pusher = make_pusher(registry)
    old = push_image(pusher, repo_name, "1.0-a")
    push_image(pusher, repo_name, "1.0-a")
    path = _matrix(tmp_path, registry.host, repo_name, [("1.0", "a", old.digest, date.today())])
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert clamp("resolve", "-m", str(path), "--check") == 8
    out = capsys.readouterr().err
    assert f"::error file={path},line=" in out
    assert "1.0/a" in out
