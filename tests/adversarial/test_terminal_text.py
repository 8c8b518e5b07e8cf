"""Red team 13: registry text on the terminal. (1) `clamp resolve --check` put a hostile
registry's error message into a rich table cell as markup: `[/]` crashed the table (MarkupError,
exit 70, the bug code) and `[green]current[/]` would have rendered a forged state. (2) Control
characters passed through every line: `\\x1b[2K\\x1b[1G` erased clamp's `error:` line on a
terminal and printed a forged `verified:` in its place; OSC 52 writes a terminal's clipboard;
U+202E reorders what is shown. Now table cells are escaped and every control character is
shown as `\\uXXXX`. Each attack beside its honest twin, against a real hostile server."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.cli.main import app, invoke
from clamp.trust.keys import PublicKey
from tests.adversarial.test_log_injection import _hostile_matrix
from tests.support.hostile_registry import denied, hostile_registry

MARKUP = "no [/] [green]current[/]"
CONTROLS = "\x1b[2K\x1b[1Gverified: forged \x1b]52;c;ZXZpbA==\x07 \u202eabc \x9b31m"
HONEST = "quota exceeded — réessayez plus tard [see docs]"


def _run(tmp_path: Path, message: str, command: str) -> tuple[int, str]:
    pub = tmp_path / "k.pub"
    pub.write_bytes(PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem)
    out, err = io.StringIO(), io.StringIO()
    with hostile_registry(denied(message)) as srv:
        matrix = tmp_path / "m.yml"
        matrix.write_text(_hostile_matrix(srv.host, pub))
        args = {"check": ["resolve", "--matrix", str(matrix), "--check"],
                "verify": ["verify", "--matrix", str(matrix), "-o", str(tmp_path / "p.json")],
                "update": ["update", "--matrix", str(matrix), "--dry-run"],
                "image": ["verify", "--insecure-ignore-tlog", f"{srv.host}/r/x:1", "--key",
                          str(pub)]}[command]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = invoke(app, args, prog_name="clamp")
    return code, out.getvalue() + err.getvalue()


@pytest.mark.parametrize("command", ["check", "verify", "update", "image"])
def test_registry_markup_is_shown_not_rendered_or_crashing(tmp_path: Path, command: str) -> None:
    code, text = _run(tmp_path, MARKUP, command)
    assert code == 69, text  # the registry failed: 69, not the bug code 70
    assert "internal error" not in text and "MarkupError" not in text
    assert "[green]current[/]" in text.replace("\n", " ") or "current[/]" in text, text


@pytest.mark.parametrize("command", ["check", "verify", "update", "image"])
def test_control_characters_from_a_registry_are_shown_escaped(tmp_path: Path,
                                                              command: str) -> None:
    code, text = _run(tmp_path, CONTROLS, command)
    assert code == 69, text
    assert not any(ch in text for ch in "\x1b\x07\u202e\x9b"), repr(text)
    assert "\\u001b[2K" in text and "\\u202e" in text
    # Honest twin: ordinary text, accents, dashes and brackets come through as written.
    code, text = _run(tmp_path, HONEST, command)
    assert code == 69 and "quota exceeded — réessayez plus tard [see docs]" in " ".join(
        text.replace("│", " ").split()), text
