"""`action.yml`, the composite action, run step by step as the runner runs it.

The install step is real (a venv from the committed hash lock, so it needs the package index and
is skipped with a reason without one); the resolve and verify steps run the clamp it installed on
the demo's matrix and OCI layout. The exit-code and argument logic is also run against a stand-in
clamp, so a failure of clamp can never read as a pass of the action.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.wf import ROOT, load, stand_in

ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
RECORD_ARGV = 'printf "%s\\x1f" "$@" >>"$ARGV_LOG"; printf "\\n" >>"$ARGV_LOG"'


def evaluate(text: str, context: Mapping[str, str]) -> str:
    """The runner's `${{ a.b }}` substitution for the plain names the action uses."""
    return EXPRESSION.sub(lambda m: context.get(m.group(1), ""), text)


def run_action_step(step: dict[str, Any], *, cwd: Path, context: Mapping[str, str],
                    path: str, extra_env: Mapping[str, str] | None = None,
                    timeout: int = 60) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    output = cwd / f"github_output_{step['id']}"
    output.write_text("")
    script = cwd / f"{step['id']}.sh"
    script.write_text(step["run"])
    env = {"PATH": path, "HOME": str(cwd), "GITHUB_OUTPUT": str(output),
           "GITHUB_STEP_SUMMARY": str(cwd / "summary.md"), "GITHUB_ACTIONS": "true",
           "RUNNER_TEMP": str(cwd / "runner_temp"), **(extra_env or {})}
    (cwd / "runner_temp").mkdir(exist_ok=True)
    env.update({k: evaluate(str(v), context) for k, v in step.get("env", {}).items()})
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return proc, outputs


def steps_by_id() -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in load(ACTION)["runs"]["steps"]}


def inputs_context(**given: str) -> dict[str, str]:
    declared = load(ACTION)["inputs"]
    context = {f"inputs.{k}": str(v.get("default", "")) for k, v in declared.items()}
    context.update({f"inputs.{k.replace('_', '-')}": v for k, v in given.items()})
    return context


def test_contract_inputs_outputs_and_no_expression_in_scripts() -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    for name in ("matrix", "images", "mode", "key", "certificate-identity",
                 "certificate-identity-regexp", "certificate-oidc-issuer",
                 "certificate-oidc-issuer-regexp", "trusted-root", "version", "os", "output"):
        assert name in action["inputs"], name
    assert set(action["outputs"]) == {"image", "digest", "status", "provenance"}
    for step in action["runs"]["steps"]:
        assert not EXPRESSION.search(step["run"]), f"{step['id']}: an expression in run:"


def test_the_lock_pins_every_requirement_with_hashes() -> None:
    lock = (ROOT / "requirements" / "ci.lock").read_text()
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==\S+", lock, re.M)
    assert "setuptools" in pins and "httpx" in pins
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", lock)
    assert len(blocks) - 1 == len(pins)
    for block in blocks[1:]:
        assert "--hash=sha256:" in block, block.splitlines()[0]


#: A stand-in clamp: records its argv; `verify` writes the file after --output when WRITE is
#: set and exits FAKE_RC; `provenance check FILE` fails unless FILE has content.
FAKE_CLAMP = RECORD_ARGV + """
if [[ "$1" == provenance ]]; then
  [[ -s "$3" ]] || { echo "error: $3: no provenance" >&2; exit 64; }
  exit 0
fi
if [[ "$1" == verify && -n "${WRITE:-}" ]]; then
  for ((i = 1; i < $#; i++)); do
    if [[ "${!i}" == --output ]]; then
      j=$((i + 1)); mkdir -p "$(dirname "${!j}")"; echo "{}" >"${!j}"
    fi
  done
fi
exit "${FAKE_RC:-0}"
"""


@pytest.fixture
def fake(tmp_path: Path) -> tuple[Path, Path]:
    bin_dir = tmp_path / "fakebin"
    stand_in(bin_dir, "clamp", FAKE_CLAMP)
    return bin_dir, tmp_path / "argv.log"


def _verify_with_fake(tmp_path: Path, fake: tuple[Path, Path], rc: int, write: bool,
                      **given: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str],
                                             list[list[str]]]:
    bin_dir, log = fake
    context = {**inputs_context(**given), "steps.install.outputs.bin": str(bin_dir)}
    proc, outputs = run_action_step(
        steps_by_id()["verify"], cwd=tmp_path, context=context, path=os.environ["PATH"],
        extra_env={"FAKE_RC": str(rc), "ARGV_LOG": str(log), **({"WRITE": "1"} if write else {})})
    argv = [line.split("\x1f")[:-1] for line in log.read_text().splitlines()] \
        if log.exists() else []
    return proc, outputs, argv


@pytest.mark.parametrize("rc", [1, 2, 3, 4, 5, 8, 64, 69, 70, 71])
@pytest.mark.parametrize("target", [{"matrix": "m.yml"}, {"images": "a:1"}])
def test_any_nonzero_clamp_fails_the_step_with_its_code(tmp_path: Path, fake: tuple[Path, Path],
                                                         rc: int, target: dict[str, str]) -> None:
    proc, outputs, _ = _verify_with_fake(tmp_path, fake, rc, True, **target)
    assert proc.returncode == rc
    assert "status" not in outputs and "provenance" not in outputs


def test_zero_without_provenance_fails(tmp_path: Path, fake: tuple[Path, Path]) -> None:
    proc, outputs, argv = _verify_with_fake(tmp_path, fake, 0, False, matrix="m.yml")
    assert proc.returncode == 64 and "no provenance" in proc.stderr
    assert "provenance" not in outputs
    assert argv[-1][:2] == ["provenance", "check"]


def test_a_stale_provenance_file_does_not_count(tmp_path: Path, fake: tuple[Path, Path]) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "rocm_provenance.json").write_text("{}")  # from an earlier run
    proc, _, _ = _verify_with_fake(tmp_path, fake, 0, False, matrix="m.yml")
    assert proc.returncode != 0


def test_images_reach_clamp_as_literal_arguments(tmp_path: Path,
                                                 fake: tuple[Path, Path]) -> None:
    hostile = "ghcr.io/a/b:1 $(touch pwned)"
    proc, outputs, argv = _verify_with_fake(
        tmp_path, fake, 0, True, images=f"ghcr.io/a/b:1\n\n  reg.example/x@sha256:{'a' * 64}\n",
        key="k.pub", certificate_identity_regexp="^x$")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert argv == [["verify", "--key", "k.pub", "--certificate-identity-regexp", "^x$",
                     "ghcr.io/a/b:1", f"reg.example/x@sha256:{'a' * 64}"]]
    assert outputs == {"status": "ok"}
    proc, _, _ = _verify_with_fake(tmp_path, fake, 0, True, images=hostile)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("line", ["--key=/tmp/attacker.pub", "--certificate-identity-regexp=.*",
                                  "  -k", "-"])
def test_an_images_line_is_never_a_flag(tmp_path: Path, fake: tuple[Path, Path],
                                        line: str) -> None:
    """Red team 13: each `images` line reached clamp as one argument, so a line `--key=...`
    added a key clamp would accept (any one may verify) and a line
    `--certificate-identity-regexp=.*` a keyless signer: flags, not images. Refused (64)
    before clamp runs; the honest twin is the test above."""
    proc, outputs, argv = _verify_with_fake(tmp_path, fake, 0, True,
                                            images=f"ghcr.io/a/b:1\n{line}\n", key="k.pub")
    assert proc.returncode == 64 and argv == [] and outputs == {}, proc.stdout + proc.stderr
    assert "::error title=clamp::images: a line starts with '-'" in proc.stdout


@pytest.mark.parametrize("given", [{}, {"matrix": "m.yml", "images": "a:1"}])
def test_exactly_one_of_matrix_and_images(tmp_path: Path, fake: tuple[Path, Path],
                                          given: dict[str, str]) -> None:
    proc, _, argv = _verify_with_fake(tmp_path, fake, 0, True, **given)
    assert proc.returncode == 64 and argv == []


def test_an_unknown_mode_is_refused(tmp_path: Path, fake: tuple[Path, Path]) -> None:
    bin_dir, log = fake
    context = {**inputs_context(matrix="m.yml", mode="verfiy"),
               "steps.install.outputs.bin": str(bin_dir)}
    proc, _ = run_action_step(steps_by_id()["resolve"], cwd=tmp_path, context=context,
                              path=os.environ["PATH"], extra_env={"ARGV_LOG": str(log)})
    assert proc.returncode == 64 and not log.exists()


# What pip prints when it never got an answer from the index (DNS, no route, refused, proxy).
_UNREACHABLE = ("Failed to establish a new connection", "Temporary failure in name resolution",
                "Name or service not known", "Network is unreachable", "Connection refused",
                "ConnectTimeoutError", "ProxyError", "No route to host")


def _first(text: str, signs: tuple[str, ...]) -> str:
    line = next(line for line in text.splitlines() if any(sign in line for sign in signs))
    return line.strip()[:200]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The action's own install step, for real: hash-locked from the package index."""
    cwd = tmp_path_factory.mktemp("runner")
    context = {**inputs_context(python=sys.executable), "github.action_path": str(ROOT)}
    proc, outputs = run_action_step(steps_by_id()["install"], cwd=cwd, context=context,
                                    path=os.environ["PATH"], timeout=900)
    said = proc.stdout + proc.stderr
    if proc.returncode != 0 and any(sign in said for sign in _UNREACHABLE):
        pytest.skip(f"the package index was not reachable: {_first(said, _UNREACHABLE)}")
    # Anything else is the install failing as it would on a runner: "No matching distribution"
    # with the index answering means the lock names a release with no wheel for this Python
    # (the step installs --only-binary :all:), a failure and never a reason to skip.
    assert proc.returncode == 0, said[-3000:]
    return Path(outputs["bin"])


def test_install_then_resolve_and_verify_the_demo_matrix(installed: Path,
                                                         tmp_path: Path) -> None:
    # The demo (which needs the telemetry extra) is made by this checkout's clamp; the action's
    # clamp, installed without that extra, resolves and verifies what it made.
    demo = subprocess.run([sys.executable, "-m", "clamp", "demo", "--output", str(tmp_path / "d")],
                          capture_output=True, text=True, check=False, timeout=600)
    assert demo.returncode == 0, demo.stderr[-2000:]
    matrix = str(tmp_path / "d" / "ci" / "rocm_matrix.yml")
    context = {**inputs_context(matrix=matrix), "steps.install.outputs.bin": str(installed)}
    resolved, outputs = run_action_step(steps_by_id()["resolve"], cwd=tmp_path, context=context,
                                        path=os.environ["PATH"], timeout=300)
    assert resolved.returncode == 0, resolved.stderr
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", outputs["digest"])
    assert outputs["image"].endswith("@" + outputs["digest"])
    verified, outputs = run_action_step(steps_by_id()["verify"], cwd=tmp_path, context=context,
                                        path=os.environ["PATH"], timeout=300)
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]
    assert outputs["status"] == "warnings"  # the demo's matrix is in warn mode, on purpose
    provenance = json.loads((tmp_path / outputs["provenance"]).read_text())
    assert provenance["records"]
