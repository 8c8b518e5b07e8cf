"""Red team 13: the origin's verifier shim keeps the origin's exit codes, where 1 means
*warnings*. A broken install (clamp not importable) crashed it before its catch-all, with
Python's crash code 1: a verifier that never ran read as one that passed with warnings. Now
anything escaping is the origin's failure, 2, with one line; the honest twin is an ordinary
failure, which was 2 already."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIM = ROOT / "ci" / "verify_rocm_digest.py"
IMAGE = "ghcr.io/rocm/dev:6.4.4-ubuntu-22.04"


def _shim(pre: str, *args: str) -> subprocess.CompletedProcess[str]:
    code = (f"{pre}\nimport runpy, sys\nsys.argv = {[str(SHIM), *args]!r}\n"
            f"runpy.run_path({str(SHIM)!r}, run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False, cwd=ROOT)


def test_a_broken_install_is_the_origins_failure_not_its_warning() -> None:
    broken = _shim("import sys; sys.modules['clamp'] = None  # as if not installed", IMAGE)
    assert broken.returncode == 2, broken.stderr
    lines = broken.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Verification error: ModuleNotFoundError")
    honest = _shim("", IMAGE, "--matrix", "/nonexistent/rocm_matrix.yml")
    assert honest.returncode == 2 and "Verification error" in honest.stderr
