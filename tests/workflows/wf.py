"""Helpers for the workflow tests: load a workflow, find a step, run a step's script as GitHub does.

Running a `run:` block for real (bash -eo pipefail, the step's env, GITHUB_OUTPUT) tests what the
YAML cannot show: how exit codes are mapped and that inputs arrive as data, not code.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
VERIFY = WORKFLOWS / "verify-rocm.yml"
UPDATE = WORKFLOWS / "update-rocm.yml"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.S)


def load(path: Path) -> dict[str, Any]:
    """Parse as YAML 1.2 (so the key `on` stays a string, as GitHub reads it)."""
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def steps(workflow: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every step of every job, with its job id."""
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


def step(workflow: Mapping[str, Any], job_id: str, name_prefix: str) -> dict[str, Any]:
    """The one step of `job_id` whose name starts with `name_prefix`."""
    found = [s for j, s in steps(workflow)
             if j == job_id and str(s.get("name", "")).startswith(name_prefix)]
    assert len(found) == 1, f"{job_id}: {len(found)} steps named {name_prefix!r}…"
    return found[0]


def run_step(workflow: Mapping[str, Any], job_id: str, name_prefix: str, *, cwd: Path,
             bin_dir: Path, env: Mapping[str, str]) -> tuple[subprocess.CompletedProcess[str],
                                                          dict[str, str]]:
    """Run one step's script with bash -eo pipefail, workflow + job + step env, and `env`.

    Expressions in the step's env are replaced by the caller's values (`env` wins), as the runner
    would have evaluated them. `bin_dir` comes first on PATH so stand-in commands are found.
    Returns the process and the step's GITHUB_OUTPUT as a dict.
    """
    the_step = step(workflow, job_id, name_prefix)
    merged: dict[str, str] = {}
    for scope in (workflow.get("env", {}), workflow["jobs"][job_id].get("env", {}),
                  the_step.get("env", {})):
        merged.update({k: str(v) for k, v in scope.items()})
    merged = {k: v for k, v in merged.items() if not EXPRESSION.search(v)}
    merged.update(env)
    output = cwd / "github_output"
    output.write_text("")
    summary = cwd / "github_step_summary"
    summary.touch()
    script = cwd / "step.sh"
    script.write_text(the_step["run"])
    proc_env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(cwd),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_ACTIONS": "true",
        **merged,
    }
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                          cwd=cwd, env=proc_env, capture_output=True, text=True, timeout=60,
                          check=False)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return proc, outputs


def stand_in(bin_dir: Path, name: str, body: str) -> None:
    """An executable `name` in `bin_dir` running the bash `body` (records its argv, exits)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/usr/bin/env bash\nset -eu\n" + body + "\n")
    path.chmod(0o755)
