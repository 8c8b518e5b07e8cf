"""scripts/lint-workflows: passes on the project's workflows and fails on bad ones.

Each linter is shown to bite on its own: actionlint (a workflow error), shellcheck (a shell bug in
a run: block) and zizmor (an unpinned action), and the project's own workflow fails the gate as
soon as one of its pins is turned back into a tag.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.workflows.wf import ROOT, VERIFY

LINT = ROOT / "scripts" / "lint-workflows"
NOT_INSTALLED = 3


def lint(directory: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [str(LINT)] + ([str(directory)] if directory else [])
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    if proc.returncode == NOT_INSTALLED:
        pytest.skip(f"workflow linters not installed (run scripts/setup): {proc.stderr.strip()}")
    return proc


def write(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "workflows"
    directory.mkdir()
    (directory / "ci.yml").write_text(text)
    return directory


CLEAN = """\
name: Clean
on: push
permissions: {}
concurrency:
  group: ${{ github.workflow }}-${{ github.ref }}
  cancel-in-progress: true
jobs:
  build:
    name: Build
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    permissions:
      contents: read # check out
    steps:
      - name: Check out
        uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
      - name: Greet
        env:
          WHO: world
        run: echo "hello $WHO"
"""


def test_project_workflows_pass() -> None:
    proc = lint()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "-- actionlint (2 files)" in proc.stdout
    assert "-- shellcheck on run: blocks" in proc.stdout
    assert "-- zizmor --offline" in proc.stdout


def test_clean_sample_passes(tmp_path: Path) -> None:
    """The baseline the failing cases below each break in one way."""
    proc = lint(write(tmp_path, CLEAN))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unpinned_action_and_injected_title_fail(tmp_path: Path) -> None:
    bad = CLEAN.replace("on: push", "on:\n  issues:\n    types: [opened]").replace(
        "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
        "actions/checkout@v4").replace('echo "hello $WHO"',
                                       'echo "${{ github.event.issue.title }}"')
    proc = lint(write(tmp_path, bad))
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert '"github.event.issue.title" is potentially untrusted' in out  # actionlint
    assert "template-injection" in out and "unpinned-uses" in out  # zizmor


def test_actionlint_alone_catches_a_schema_error(tmp_path: Path) -> None:
    proc = lint(write(tmp_path, CLEAN.replace("timeout-minutes: 5", "timeout-minutes: five")))
    assert proc.returncode == 1
    assert "[syntax-check]" in proc.stdout or "[expression]" in proc.stdout, proc.stdout


def test_shellcheck_reports_the_workflow_line(tmp_path: Path) -> None:
    bad = CLEAN.replace('run: echo "hello $WHO"', 'run: |\n          echo ok\n'
                        '          for f in $(ls); do echo "$f"; done')
    proc = lint(write(tmp_path, bad))
    assert proc.returncode == 1
    line = next(x for x in proc.stdout.splitlines() if "SC2045" in x)
    assert ":24:" in line  # the `for` line of the workflow file, not of the extracted script


def test_project_workflow_with_a_tag_instead_of_a_pin_fails(tmp_path: Path) -> None:
    directory = tmp_path / "workflows"
    directory.mkdir()
    text = VERIFY.read_text()
    pin = "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97 # v7.0.0"
    assert pin in text
    (directory / VERIFY.name).write_text(text.replace(pin, "actions/setup-python@v5"))
    proc = lint(directory)
    assert proc.returncode == 1
    assert "unpinned-uses" in proc.stdout + proc.stderr


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node not installed")
    proc = lint(tmp_path)
    assert proc.returncode == 1
    assert "no workflow files" in proc.stderr
