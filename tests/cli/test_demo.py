"""The README's main job: `clamp demo` end to end, on a layout and on a real registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clamp.demo.local_registry import registry_binary
from clamp.demo.scenario import STORIES


def run_demo(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clamp", "demo", "--output", str(out), *extra],
                          capture_output=True, text=True, check=False, timeout=300)


def check_outputs(out: Path) -> None:
    provenance = json.loads((out / "build/rocm_provenance.json").read_text())
    statuses = {r["entry"]: r["trustStatus"] for r in provenance["records"]}
    assert statuses == {s.entry: s.status for s in STORIES}
    summary = json.loads((out / "build/telemetry_summary.json").read_text())
    assert summary["sessionCount"] > 0 and summary["corruptFiles"]["count"] >= 1
    assert summary["trustStatus"] in {"valid", "invalid", "unsigned", "identity_mismatch"}
    html = (out / "build/telemetry_report.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "")


def test_demo_on_a_layout_explains_every_verdict(tmp_path: Path) -> None:
    proc = run_demo(tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert "✗" not in proc.stdout
    for story in STORIES:
        assert story.entry in proc.stdout
    check_outputs(tmp_path / "out")
    # Running it again over the same folder works and gives the same verdicts.
    assert run_demo(tmp_path / "out").returncode == 0
    check_outputs(tmp_path / "out")


@pytest.mark.registry
def test_demo_against_a_real_registry(tmp_path: Path) -> None:
    if registry_binary() is None:
        pytest.skip("Debian's docker-registry is not installed")
    proc = run_demo(tmp_path / "out", "--registry")
    assert proc.returncode == 0, proc.stderr
    assert "started docker-registry" in proc.stderr
    check_outputs(tmp_path / "out")


def test_demo_refuses_a_foreign_layout_folder(tmp_path: Path) -> None:
    (tmp_path / "out/layout").mkdir(parents=True)
    (tmp_path / "out/layout/precious.txt").write_text("mine")
    proc = run_demo(tmp_path / "out")
    assert proc.returncode == 64
    assert (tmp_path / "out/layout/precious.txt").read_text() == "mine"
