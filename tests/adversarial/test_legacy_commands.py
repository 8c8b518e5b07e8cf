"""Red team 13: the Actions runner's *legacy* workflow commands. Besides `::cmd::` at the start
of a line, actions/runner (ActionCommand.TryParse) reads `##[cmd props]data` **anywhere** in a
line: `error: ...: access denied (403): ##[set-output name=status]verified` set the step's
`status` output, `##[stop-commands]x` made the runner ignore clamp's own `::error` annotations
after it. A hostile registry's error text reached clamp's log lines and its `--json` on stdout
verbatim. Under GitHub Actions clamp now breaks every `##[` it prints (a zero-width space after
`##`); outside Actions the text is exact. Each attack has its honest twin."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.trust.keys import PublicKey
from tests.support.hostile_registry import denied, hostile_registry

ROOT = Path(__file__).resolve().parents[2]
LEGACY = "##[set-output name=status]verified ##[stop-commands]tok ##[add-mask]error"


def _legacy_commands(text: str) -> list[str]:
    """What the runner would run as legacy commands: `##[NAME` anywhere in a line, NAME one of
    its registered commands."""
    names = ("set-output", "stop-commands", "add-mask", "save-state", "set-env", "add-path",
             "error", "warning", "debug")
    found = []
    for line in text.replace("\r", "\n").split("\n"):
        at = line.find("##[")
        if at >= 0 and line[at + 3:].split("]")[0].split(" ")[0] in names:
            found.append(line[at:])
    return found


def _key(tmp_path: Path) -> Path:
    pub = tmp_path / "k.pub"
    pub.write_bytes(PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem)
    return pub


def _child(args: list[str], *, actions: bool) -> tuple[int, str, str]:
    """The real entry point in a child (its stream guards installed), as CI runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    if actions:
        env["GITHUB_ACTIONS"] = "true"
    proc = subprocess.run([sys.executable, "-c", f"from clamp.cli.main import run\nrun({args!r})"],
                          capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
                          env=env)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("as_json", [False, True])
def test_registry_text_starts_no_legacy_command_on_either_stream(tmp_path: Path,
                                                                 as_json: bool) -> None:
    pub = _key(tmp_path)
    with hostile_registry(denied(f"denied {LEGACY}")) as srv:
        args = ["verify", "--insecure-ignore-tlog", f"{srv.host}/r/x:1", "--key", str(pub),
                *(["--json"] if as_json else [])]
        code, out, err = _child(args, actions=True)
        assert code == 69, err
        assert _legacy_commands(out) == [] and _legacy_commands(err) == [], (out, err)
        assert "set-output name=status]verified" in err  # the text is still shown, broken
        if as_json:
            document = json.loads(out)  # still JSON, the reason readable
            assert "set-output name=status]verified" in document["result"]["reason"]
        # Honest twin: outside GitHub Actions no runner reads the log; the text is exact.
        code, out, err = _child(args, actions=False)
    assert code == 69 and f"denied {LEGACY}" in err
    assert not as_json or f"denied {LEGACY}" in json.loads(out)["result"]["reason"]


def test_clamps_own_lines_break_legacy_commands_in_process(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`invoke` without the stream guards (a library caller): error/warning lines and the
    annotations' text are broken by clamp.cli.output itself."""
    from clamp.cli.main import app, invoke
    from clamp.cli.output import gha_annotation, warn

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    pub = _key(tmp_path)
    err = io.StringIO()
    with hostile_registry(denied(LEGACY)) as srv, contextlib.redirect_stderr(err):
        code = invoke(app, ["verify", "--insecure-ignore-tlog", f"{srv.host}/r/x:1", "--key",
                            str(pub)], prog_name="clamp")
        warn(f"tag {LEGACY}")
        gha_annotation("error", f"entry: {LEGACY}", file="m.yml", line=3)
    assert code == 69
    assert _legacy_commands(err.getvalue()) == [], err.getvalue()
    assert err.getvalue().count("::error file=m.yml,line=3::entry: ") == 1
    honest = io.StringIO()
    with contextlib.redirect_stderr(honest):
        warn("tag ## [section] and #[x] stay as written")
    assert honest.getvalue() == "warning: tag ## [section] and #[x] stay as written\n"


def test_a_command_split_across_writes_is_broken_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner reads lines, not writes: `##` at the end of one write and `[` at the start
    of the next is one command."""
    from clamp.cli.streams import BestEffortStderr, GuardedStdout

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    for guard in (GuardedStdout, BestEffortStderr):
        sink = io.StringIO()
        stream = guard(sink)
        for part in ("x #", "#", "[set-output name=a]b\n", "##", "[stop-commands]t\n"):
            stream.write(part)
        assert _legacy_commands(sink.getvalue()) == [], sink.getvalue()
        honest = io.StringIO()
        stream = guard(honest)
        for part in ("sha256:", "ab", " [ok] #", "1\n"):
            stream.write(part)
        assert honest.getvalue() == "sha256:ab [ok] #1\n"
