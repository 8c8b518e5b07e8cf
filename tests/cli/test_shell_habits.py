"""The habits a shell user brings: -h, --quiet, completion, --version, a named missing extra."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clamp import __version__

REPO = Path(__file__).resolve().parents[2]
MATRIX = REPO / "examples" / "rocm_matrix.yml"


def clamp(*args: str, env: dict[str, str] | None = None,
          code: str = "from clamp.cli.main import run; run()") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=False, timeout=120, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("argv", [["-h"], ["verify", "-h"], ["matrix", "validate", "-h"],
                                  ["telemetry", "accumulate", "-h"]])
def test_dash_h_is_help_everywhere(argv: list[str]) -> None:
    proc = clamp(*argv)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: ")
    assert "-h, --help" in proc.stdout


def test_quiet_drops_progress_but_not_the_work(tmp_path: Path) -> None:
    digest = "sha256:" + "ab" * 32
    loud = clamp("telemetry", "samples", str(tmp_path / "a"), "--digest", digest)
    quiet = clamp("--quiet", "telemetry", "samples", str(tmp_path / "b"), "--digest", digest)
    assert loud.returncode == quiet.returncode == 0, (loud.stderr, quiet.stderr)
    assert "wrote" in loud.stderr
    assert quiet.stderr == ""
    written = sorted(p.name for p in (tmp_path / "b" / "build" / "telemetry").iterdir())
    assert written and written == sorted(
        p.name for p in (tmp_path / "a" / "build" / "telemetry").iterdir())


def test_quiet_keeps_the_answer() -> None:
    loud = clamp("matrix", "validate", str(MATRIX))
    quiet = clamp("-q", "matrix", "validate", str(MATRIX))
    assert loud.returncode == quiet.returncode == 0
    assert quiet.stdout == loud.stdout != ""


def test_quiet_keeps_errors() -> None:
    proc = clamp("-q", "matrix", "validate", str(REPO / "no-such-matrix.yml"))
    assert proc.returncode == 64
    assert proc.stderr.startswith("error: ")


def test_bash_completion_names_the_commands() -> None:
    proc = clamp(env={"_CLAMP_COMPLETE": "complete_bash", "COMP_WORDS": "clamp ver",
                      "COMP_CWORD": "1"})
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) == {"verify", "verify-blob"}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_for_each_shell(shell: str) -> None:
    proc = clamp(env={"_CLAMP_COMPLETE": f"source_{shell}"})
    assert proc.returncode == 0, proc.stderr
    assert "_CLAMP_COMPLETE" in proc.stdout


def test_telemetry_inspect_version_and_help() -> None:
    entry = "from clamp.cli.telemetry import run_inspect; run_inspect()"
    version = clamp("--version", code=entry)
    assert version.returncode == 0 and __version__ in version.stdout
    helped = clamp("-h", code=entry)
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: ")


@pytest.mark.parametrize("argv", [["telemetry", "accumulate", "ROOT"], ["demo", "-o", "OUT"]])
def test_a_missing_extra_is_named_before_any_work(argv: list[str], tmp_path: Path) -> None:
    argv = [a.replace("ROOT", str(tmp_path)).replace("OUT", str(tmp_path / "out")) for a in argv]
    # sys.modules[name] = None is how Python spells "this module cannot be imported".
    code = "import sys; sys.modules['duckdb'] = None; from clamp.cli.main import run; run()"
    proc = clamp(*argv, code=code)
    assert proc.returncode == 78, proc.stderr
    assert proc.stderr.strip() == ("error: this command needs the optional dependency 'duckdb': "
                                   "pip install 'clamp[telemetry]'")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "build").exists()


def test_a_missing_extra_deep_in_a_command_is_named_too() -> None:
    from clamp.cli.extras import missing_from
    from clamp.exitcodes import for_error

    err = missing_from(ModuleNotFoundError("No module named 'duckdb'", name="duckdb"))
    assert err is not None and for_error(err) == 78
    assert missing_from(ModuleNotFoundError("No module named 'yaml'", name="yaml")) is None
    assert missing_from(ValueError("duckdb")) is None
