"""Workflow-command injection: a hostile registry's error text, shown in CI logs, must never
start a line the GitHub Actions runner reads as a command (`::add-mask::`, `::set-output`,
`::stop-commands::`), on stdout or stderr, in `verify --image` or `verify --matrix` (whose
annotations quote the findings). Probe of session 9: already held."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.cli.main import app, invoke
from clamp.trust.keys import PublicKey
from tests.support.hostile_registry import Answer, hostile_registry

INJECTED = ("nope\n::set-output name=verified::true\r\n::add-mask::x\n"
            "::stop-commands::abc\u2028::error::forged")


def _script(method: str, path: str) -> Answer:
    if path == "/v2/":
        return Answer(200, b"{}", {"Content-Type": "application/json"})
    body = json.dumps({"errors": [{"code": "DENIED\n::warning::x", "message": INJECTED}]})
    return Answer(403, body.encode(), {"Content-Type": "application/json"})


def _run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = invoke(app, list(argv), prog_name="clamp")
    return code, out.getvalue() + err.getvalue()


def _commands(text: str) -> list[str]:
    """Lines the runner would read as workflow commands (it splits on CR, LF, CRLF)."""
    return [line.strip() for line in text.replace("\r", "\n").split("\n")
            if line.strip().startswith("::")]


@pytest.mark.parametrize("front", ["image", "matrix"])
def test_registry_text_never_starts_a_workflow_command(front: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pub = tmp_path / "k.pub"
    pub.write_bytes(PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem)
    with hostile_registry(_script) as srv:
        if front == "image":
            code, text = _run("verify", "--insecure-ignore-tlog", "--image",
                              f"{srv.host}/r/x:1", "--key", str(pub))
        else:
            matrix = tmp_path / "m.yml"
            matrix.write_text(_hostile_matrix(srv.host, pub))
            code, text = _run("verify", "--matrix", str(matrix), "-o",
                              str(tmp_path / "p.json"))
    assert code == 69, text
    assert "forged" in text or "DENIED" in text  # the registry's text is shown...
    # ...but only inside clamp's own annotations, never at the start of a line of its own.
    commands = _commands(text)
    assert all(line.startswith(("::error", "::warning", "::notice")) for line in commands)
    assert not any(line.startswith(("::error::forged", "::warning::x")) for line in commands)


@pytest.mark.parametrize("front", ["update", "check", "update-json"])
def test_registry_text_starts_no_workflow_command_in_update_or_check(
        front: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team 11: the same hostile registry under `clamp update` (its log lines, table,
    annotations, outputs and PR body) and `clamp resolve --check`. Held already."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pub = tmp_path / "k.pub"
    pub.write_bytes(PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem)
    with hostile_registry(_script) as srv:
        matrix = tmp_path / "m.yml"
        matrix.write_text(_hostile_matrix(srv.host, pub))
        body = tmp_path / "pr.md"
        if front == "check":
            code, text = _run("resolve", "--matrix", str(matrix), "--check")
        else:
            code, text = _run("update", "--matrix", str(matrix), "--pr-body", str(body),
                              *(["--json"] if front == "update-json" else []))
    assert code == 69, text
    commands = _commands(text)
    assert all(line.startswith(("::error", "::warning", "::notice")) for line in commands)
    assert not any(line.startswith(("::error::forged", "::warning::x")) for line in commands)
    if output.exists():
        names = [line.split("=")[0].split("<<")[0] for line in output.read_text().splitlines()
                 if "=" in line or "<<" in line]
        assert "verified" not in names


def _hostile_matrix(host: str, pub: Path) -> str:
    """A one-entry strict matrix pinned at the hostile registry, trusting `pub`."""
    return f"""version: 1
defaults:
  registry: "{host}"
  repository: r/x
  tag: "{{version}}-{{os}}"
  policy: strict
  trust: [k]
trust:
  k:
    keys: [{{path: {pub}}}]
    tlog: optional
images:
  - version: "1"
    os: ubuntu-22.04
    digest: sha256:{"ab" * 32}
    added: {(date.today() - timedelta(days=1)).isoformat()}
"""
