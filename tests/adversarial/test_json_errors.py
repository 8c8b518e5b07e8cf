"""Red team 13: `--json` when the run stops before it has a result. stdout was empty, so a
script doing `clamp resolve --json | jq -r .image` met jq's own parse error (or, with `jq -r
'.image // empty'`, an empty answer and jq's exit 0) instead of clamp's reason. Now every
command prints one error object with the exit code it returns anyway; a command that printed
its result before failing keeps that one document (never two), and a stdout that cannot be
written gets nothing. Each case beside its honest twin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "examples" / "rocm_matrix.yml"


def _run(args: list[str], env: dict[str, str] | None = None,
         stdout: int | None = subprocess.PIPE) -> tuple[int, str, str]:
    """The real entry point in a child, as a script in CI runs it."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    proc = subprocess.run([sys.executable, "-c", f"from clamp.cli.main import run\nrun({args!r})"],
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120,
                          check=False, cwd=ROOT, env={**base, **(env or {})})
    return proc.returncode, proc.stdout or "", proc.stderr


@pytest.mark.parametrize("args", [
    ["resolve", "--matrix", "/nonexistent/m.yml"],
    ["resolve", "--matrix", str(MATRIX), "--os", "a", "--os", "b"],   # a usage error
    ["resolve"],                                                       # a missing option
    ["verify", "--matrix", "/nonexistent/m.yml"],
    ["verify", "oci:/nonexistent/x:1"],                                # no trust flags
    ["update", "--matrix", "/nonexistent/m.yml"],
    ["provenance", "verify", "/nonexistent/p.json"],
    ["verify-blob", "--bundle", "/nonexistent/b.json", "--key", "/nonexistent/k", "/etc/hostname"],
])
def test_an_early_error_is_a_json_error_object_with_the_same_code(args: list[str]) -> None:
    code, out, err = _run([*args, "--json"])
    plain_code, plain_out, plain_err = _run(args)
    assert code == plain_code == 64, (err, plain_err)
    document = json.loads(out)
    assert document == {"error": {"exitCode": 64, "status": "bad_input",
                                  "message": document["error"]["message"]}}
    assert err.strip().splitlines() == plain_err.strip().splitlines()  # stderr unchanged
    assert err.strip() == f"error: {document['error']['message']}"
    assert plain_out == ""  # honest twin: without --json stdout stays empty


def test_a_result_is_printed_as_before() -> None:
    code, out, err = _run(["resolve", "--matrix", str(MATRIX), "--json"])
    assert code == 0, err
    assert "error" not in json.loads(out) and json.loads(out)["image"].startswith("ghcr.io/")


def test_a_result_then_a_failure_stays_one_document(tmp_path: Path) -> None:
    """`verify --matrix --json` printed the provenance, then could not append to the step
    summary (a directory): exit 64, and stdout is still that one document."""
    matrix = tmp_path / "m.yml"
    matrix.write_text('version: 1\ndefaults: {registry: "127.0.0.1:9", repository: r/x, '
                      "policy: strict, trust: [k]}\ntrust:\n  k: {keys: [{path: k.pub}]}\n"
                      'images:\n  - {version: "1", os: ubuntu-22.04, digest: null}\n')
    (tmp_path / "k.pub").write_bytes(b"")
    from cryptography.hazmat.primitives.asymmetric import ec

    from clamp.trust.keys import PublicKey

    (tmp_path / "k.pub").write_bytes(
        PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem)
    args = ["verify", "--matrix", str(matrix), "-o", str(tmp_path / "p.json"), "--json"]
    summary = tmp_path / "summary"
    summary.mkdir()
    code, out, err = _run(args, {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert code == 64 and "GITHUB_STEP_SUMMARY" in err, err
    assert json.loads(out)["status"] == "warnings"  # one document: the result, no error object
    summary.rmdir()
    code, out, err = _run(args, {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert code == 0 and json.loads(out)["status"] == "warnings", err


def test_a_stdout_that_cannot_take_the_error_object_is_still_64() -> None:
    with open("/dev/full", "w") as full:
        code, _, err = _run(["resolve", "--matrix", "/nonexistent/m.yml", "--json"],
                            stdout=full.fileno())
    assert code == 64 and "Traceback" not in err and "Exception ignored" not in err, err
    assert err.strip() == "error: /nonexistent/m.yml: file not found"
