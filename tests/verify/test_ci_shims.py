"""ci/verify_rocm_digest.py and ci/resolve_rocm.py keep the origin's interface: positional IMAGE,
--matrix/--policy, PROVENANCE_OUTPUT, and the origin's exit codes (0 ok, 1 warn, 2 fail,
3 signature fail) worked out from clamp's findings, on the demo's real signed images."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clamp.demo.scenario import DemoResult

ROOT = Path(__file__).resolve().parents[2]


def shim(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"shim_{name}", ROOT / "ci" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def matrix_with(world: DemoResult, tmp_path: Path, mode: str, require: bool = True) -> Path:
    text = world.matrix.read_text().replace("policy: warn", f"policy: {mode}")
    if not require:
        text = text.replace("  tag: \"{version}-{os}\"",
                            "  tag: \"{version}-{os}\"\n  require_signature: false")
    path = world.matrix.parent / f"shim-{mode}-{require}-{tmp_path.name}.yml"
    path.write_text(text)
    return path


def image(world: DemoResult, tag: str) -> str:
    return f"oci:{world.layout}/rocm/dev:{tag}"


def verify(world: DemoResult, tmp_path: Path, tag: str, mode: str = "strict",
           require: bool = True, monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    matrix = matrix_with(world, tmp_path, mode, require)
    return int(shim("verify_rocm_digest").main([image(world, tag), "--matrix", str(matrix)]))


@pytest.mark.parametrize(("tag", "mode", "require", "code"), [
    ("6.4.4-ubuntu-24.04", "strict", True, 0),   # key-signed, current
    ("6.2.4-ubuntu-22.04", "strict", True, 3),   # unsigned, signatures required
    ("6.2.4-ubuntu-22.04", "warn", True, 3),     # the origin: exit 3 whatever the mode
    ("6.1.2-ubuntu-22.04", "strict", True, 3),   # tampered
    ("6.0.2-ubuntu-22.04", "strict", True, 3),   # signed by a fork
    ("5.7.1-ubuntu-22.04", "strict", True, 2),   # the tag moved on
    ("5.7.1-ubuntu-22.04", "warn", True, 1),
    ("6.2.4-ubuntu-22.04", "strict", False, 0),  # not required: not checked (attest none)
    ("9.9.9-ubuntu-22.04", "strict", True, 2),   # no entry
    ("9.9.9-ubuntu-22.04", "warn", True, 1),
])
def test_origin_exit_codes(demo_world: DemoResult, tmp_path: Path, tag: str, mode: str,
                           require: bool, code: int) -> None:
    assert verify(demo_world, tmp_path, tag, mode, require) == code


def test_resolver_digest_must_match_the_pin(demo_world: DemoResult, tmp_path: Path) -> None:
    matrix = matrix_with(demo_world, tmp_path, "strict")
    good = shim("verify_rocm_digest").main([image(demo_world, "6.4.4-ubuntu-24.04"),
                                            "--matrix", str(matrix)])
    wrong = image(demo_world, "6.4.4-ubuntu-24.04") + "@sha256:" + "0" * 64
    bad = shim("verify_rocm_digest").main([wrong, "--matrix", str(matrix)])
    assert (good, bad) == (0, 2)


def test_provenance_output_is_the_origin_document(demo_world: DemoResult, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "rocm_provenance.json"
    monkeypatch.setenv("PROVENANCE_OUTPUT", str(out))
    assert verify(demo_world, tmp_path, "6.4.4-ubuntu-24.04") == 0
    doc = json.loads(out.read_text())
    assert set(doc) == {"image", "policyMode", "requireSignature", "attestMode", "provenance"}
    assert doc["image"].endswith("@" + doc["image"].rsplit("@", 1)[1])
    prov = doc["provenance"]
    assert prov["status"] == "verified" and prov["trustStatus"] == "valid"
    assert prov["digestAlgorithm"] == "sha256"
    assert prov["policyDecision"] == "mode=strict|require_sig=True|attest=enforce|status=0"
    out.unlink()
    assert verify(demo_world, tmp_path, "6.1.2-ubuntu-22.04") == 3
    failed = json.loads(out.read_text())["provenance"]
    assert (failed["status"], failed["trustStatus"]) == ("failed", "invalid")
    assert failed["policyDecision"].endswith("|status=3")


def test_scripts_run_as_the_origin_ci_ran_them(demo_world: DemoResult, tmp_path: Path) -> None:
    matrix = matrix_with(demo_world, tmp_path, "strict")
    proc = subprocess.run([sys.executable, str(ROOT / "ci" / "verify_rocm_digest.py"),
                           image(demo_world, "6.0.2-ubuntu-22.04"), "--matrix", str(matrix)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 3, proc.stderr
    assert "Signature verification failed for 6.0.2-ubuntu-22.04" in proc.stderr
    proc = subprocess.run([sys.executable, str(ROOT / "ci" / "resolve_rocm.py"),
                           "--matrix", str(matrix)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.count("\n") == 1
    assert proc.stdout.strip().endswith("@" + proc.stdout.strip().rsplit("@", 1)[1])
    missing = subprocess.run([sys.executable, str(ROOT / "ci" / "resolve_rocm.py"),
                              "--matrix", str(tmp_path / "none.yml")],
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("Error: ")
