"""ci/verify_rocm_digest.py and ci/resolve_rocm.py keep the origin's interface: positional IMAGE,
--matrix/--policy, PROVENANCE_OUTPUT, and the origin's exit codes (0 ok, 1 warn, 2 fail,
3 signature fail) worked out from clamp's findings, on the demo's real signed images."""

from __future__ import annotations

import importlib.util
import json
import os
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


def origin_layout(world: DemoResult, tmp_path: Path, mode: str) -> tuple[Path, Path]:
    """The demo's entries as the origin's rocm_matrix.yml + rocm_policy.yml (no signatures)."""
    from clamp.matrix import load

    ci = tmp_path / f"origin-{mode}"
    ci.mkdir()
    lines = ["rocm:", "  images:"]
    for entry in load(world.matrix).model.images:
        if entry.digest is None or entry.platform:
            continue
        lines += [f'    - version: "{entry.version}"', f'      os: "{entry.os}"',
                  f'      digest: "{entry.digest}"', f'      added: "{entry.added}"']
    (ci / "rocm_matrix.yml").write_text("\n".join(lines) + "\n")
    (ci / "rocm_policy.yml").write_text(f"policy:\n  mode: {mode}\n  digest_ttl: 30\n"
                                        "  require_signature: false\n  attest_mode: none\n")
    return ci / "rocm_matrix.yml", ci / "rocm_policy.yml"


@pytest.mark.parametrize("mode", ["strict", "warn", "auto_update"])
@pytest.mark.parametrize("tag", ["6.4.4-ubuntu-24.04", "5.7.1-ubuntu-22.04", "6.2.4-ubuntu-22.04",
                                 "9.9.9-ubuntu-22.04", "6.4.4-ubuntu-24.04@sha256:" + "0" * 64])
def test_codes_and_document_are_the_origin_verifiers(
        demo_world: DemoResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str,
        tag: str) -> None:
    """The origin's own verify() (../shared/origin, the registry's answer given to it through
    its CLAMP_SKIP_REMOTE_DIGEST) and the shim on the real images agree: exit code and the
    document's status, trustStatus, digestAlgorithm and policyDecision."""
    from clamp.matrix import load
    from tests.support.origin import load_script

    origin = load_script("verify_rocm_digest")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    name = tag.split("@")[0]
    version, os_name = name.split("-", 1)
    entries = {e.id: e for e in load(demo_world.matrix).model.images}
    entry = entries.get(f"{version}/{os_name}")
    moved = name.startswith("5.7.1")  # the demo's tag that moved on after it was pinned
    remote = "sha256:" + "1" * 64 if moved or entry is None or entry.digest is None \
        else entry.digest
    monkeypatch.setenv("CLAMP_SKIP_REMOTE_DIGEST", remote)
    matrix, policy = origin_layout(demo_world, tmp_path, mode)
    theirs_out, ours_out = tmp_path / "theirs.json", tmp_path / "ours.json"
    monkeypatch.setenv("PROVENANCE_OUTPUT", str(theirs_out))
    theirs = origin.verify(f"ghcr.io/rocm/dev:{tag}", matrix, policy)
    monkeypatch.setenv("PROVENANCE_OUTPUT", str(ours_out))
    ours = verify(demo_world, tmp_path, tag, mode, require=False)
    assert ours == theirs
    assert ours_out.exists() == theirs_out.exists()
    if theirs_out.exists():
        a, b = json.loads(ours_out.read_text()), json.loads(theirs_out.read_text())
        for key in ("status", "trustStatus", "digestAlgorithm", "policyDecision"):
            assert a["provenance"][key] == b["provenance"][key], key
        assert (a["policyMode"], a["requireSignature"], a["attestMode"]) == \
            (b["policyMode"], b["requireSignature"], b["attestMode"])


def test_policy_option_and_missing_policy(tmp_path: Path) -> None:
    """--policy P is read (a missing P is the origin's defaults: strict), offline paths."""
    ci = tmp_path / "ci"
    ci.mkdir()
    (ci / "rocm_matrix.yml").write_text(
        'rocm:\n  images:\n    - version: "6.4.4"\n      os: "ubuntu-24.04"\n'
        '      digest: "sha256:TODO_NEXT_RELEASE"\n')
    warn = tmp_path / "elsewhere.yml"
    warn.write_text("policy:\n  mode: warn\n")
    main = shim("verify_rocm_digest").main
    matrix = str(ci / "rocm_matrix.yml")
    assert main(["ghcr.io/rocm/dev:6.4.4-ubuntu-24.04", "--matrix", matrix]) == 2
    assert main(["ghcr.io/rocm/dev:6.4.4-ubuntu-24.04", "--matrix", matrix,
                 "--policy", str(warn)]) == 1
    assert main(["ghcr.io/rocm/dev:6.4.4-ubuntu-24.04", "--matrix", matrix,
                 "--policy", str(tmp_path / "none.yml")]) == 2
    assert main(["ghcr.io/rocm/dev:notag", "--matrix", matrix]) == 2  # the origin's catch-all


@pytest.mark.parametrize("stdout", ["closed", "full"])
def test_resolve_shim_fails_when_stdout_cannot_take_the_image(
        demo_world: DemoResult, tmp_path: Path, stdout: str) -> None:
    """`ci/resolve_rocm.py >&-` had exited 0 with the image printed nowhere; the origin's
    failure code (1) and one `Error:` line now say so. The honest run prints the image."""
    matrix = matrix_with(demo_world, tmp_path, "strict")
    argv = [sys.executable, str(ROOT / "ci" / "resolve_rocm.py"), "--matrix", str(matrix)]
    if stdout == "closed":
        proc = subprocess.run(argv, stderr=subprocess.PIPE, text=True, check=False,
                              preexec_fn=lambda: os.close(1))
    else:
        with open("/dev/full", "w") as full:
            proc = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True,
                                  check=False)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if not line.startswith("warning:")]
    assert len(errors) == 1 and errors[0].startswith("Error: standard output"), proc.stderr
    assert "Traceback" not in proc.stderr
    honest = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert honest.returncode == 0 and "@sha256:" in honest.stdout


def test_verify_shim_fails_when_stdout_cannot_take_the_verdict(
        demo_world: DemoResult, tmp_path: Path) -> None:
    """The verified image's `[PROVENANCE] Verified` line to a closed stdout had gone nowhere
    with exit 0; the origin's failure (2) now says it could not be written."""
    matrix = matrix_with(demo_world, tmp_path, "strict")
    argv = [sys.executable, str(ROOT / "ci" / "verify_rocm_digest.py"),
            image(demo_world, "6.4.4-ubuntu-24.04"), "--matrix", str(matrix)]
    closed = subprocess.run(argv, stderr=subprocess.PIPE, text=True, check=False,
                            preexec_fn=lambda: os.close(1))
    assert closed.returncode == 2, closed.stderr
    assert "standard output" in closed.stderr and "Traceback" not in closed.stderr
    honest = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert honest.returncode == 0 and "[PROVENANCE] Verified" in honest.stdout, honest.stderr
