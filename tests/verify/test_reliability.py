"""Nothing is lost and nothing unhashed passes: SIGKILL mid-write, a registry failing mid-run."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from clamp.demo.scenario import DemoResult
from tests.support.hostile_registry import Answer, hostile_registry

BLOCK_ON_RENAME = """
import os, sys
real_replace = os.replace
def replace(src, dst):
    if str(dst).endswith("prov.json"):
        print("about-to-rename", flush=True)
        sys.stdin.read()  # block until the parent kills us
    return real_replace(src, dst)
os.replace = replace
from clamp.cli.main import run
run(sys.argv[1:])
"""


def test_sigkill_during_write_leaves_previous_provenance_intact(demo_world: DemoResult,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "prov.json"
    out.write_text('{"previous": true}\n')
    proc = subprocess.Popen(
        [sys.executable, "-c", BLOCK_ON_RENAME, "verify", "--matrix", str(demo_world.matrix),
         "-o", str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:  # the child says when the new file is fully written
            if line.strip() == "about-to-rename":
                break
        else:
            pytest.fail("child ended before writing the provenance")
        temps = list(tmp_path.glob(".prov.json.*.tmp"))
        assert temps and json.loads(temps[0].read_text())["records"]  # complete temp file
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert out.read_text() == '{"previous": true}\n'


def _matrix_with_hostile(world: DemoResult, host: str, tmp_path: Path) -> Path:
    pinned = "sha256:" + hashlib.sha256(b"the pinned bytes").hexdigest()
    extra = "".join(
        f'  - version: "{v}"\n    os: broken\n    registry: "{host}"\n    repository: {repo}\n'
        f"    digest: {pinned}\n"
        for v, repo in (("9.0.1", "flaky/fivexx"), ("9.0.2", "flaky/wrongbytes"),
                        ("9.0.3", "flaky/truncated")))
    text = world.matrix.read_text().replace("images:\n", "images:\n" + extra, 1)
    path = world.matrix.parent / f"hostile-{tmp_path.name}.yml"
    path.write_text(text)
    return path


def script(method: str, path: str) -> Answer:
    if "/fivexx/" in path:
        return Answer(503, b"")
    if "/wrongbytes/" in path:
        return Answer(200, b'{"schemaVersion":2,"layers":[]}',
                      {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    if "/truncated/" in path:
        return Answer(200, b'{"schemaVersion":2,', {"Content-Type":
                                                   "application/vnd.oci.image.manifest.v1+json"},
                      declared_length=400)
    return Answer(404, b"")


def test_registry_failing_mid_run_marks_only_affected_entries(
        demo_world: DemoResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAMP_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("CLAMP_RETRY_MAX_WAIT", "0.05")
    out = tmp_path / "prov.json"
    with hostile_registry(script) as srv:
        matrix = _matrix_with_hostile(demo_world, srv.host, tmp_path)
        code = invoke(app, ["verify", "--matrix", str(matrix), "-o", str(out)], prog_name="clamp")
    assert code == 69
    records = {r["entry"]: r for r in json.loads(out.read_text())["records"]}
    for entry, needle in (("9.0.1/broken", "503"), ("9.0.2/broken", "hash to"),
                          ("9.0.3/broken", "gave up")):
        record = records[entry]
        assert record["trustStatus"] == "error", entry
        assert record["digestVerified"] is False
        assert needle in record["policyPath"], (entry, record["policyPath"])
        assert record["timestamp"] == {"time": None, "source": None}
    assert records["6.4.4/ubuntu-24.04"]["trustStatus"] == "valid"
    assert sum(r["trustStatus"] == "valid" for r in records.values()) == 4


def test_provenance_written_with_mode_of_previous_file(demo_world: DemoResult,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "prov.json"
    out.write_text("{}")
    os.chmod(out, 0o640)
    invoke(app, ["verify", "--matrix", str(demo_world.matrix), "-o", str(out)], prog_name="clamp")
    assert out.stat().st_mode & 0o777 == 0o640
    assert json.loads(out.read_text())["records"]
