"""The workflows' shell steps, run for real with bash -eo pipefail as the runner does.

`clamp` and `gh` are stand-ins here (a recorded argv and a chosen exit code): what is under test is
the step's own logic — which exit codes open a pull request, which fail the job, that dispatch
inputs reach clamp as one literal argument, and that the branch and pull request come out right
against a real git remote.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.workflows.wf import UPDATE, VERIFY, load, run_step, stand_in

RECORD_ARGV = 'printf "%s\\x1f" "$@" >>"$ARGV_LOG"; printf "\\n" >>"$ARGV_LOG"'
UPDATED, PARTIAL, NOTHING_TO_DO = 10, 7, 0


def calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [line.split("\x1f")[:-1] for line in log.read_text().splitlines()]


@pytest.fixture
def fake_clamp(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    stand_in(bin_dir, "clamp", RECORD_ARGV + '\necho "clamp stand-in ran"\nexit "$FAKE_RC"')
    return bin_dir


def run_update_step(tmp_path: Path, bin_dir: Path, rc: int, **env: str) -> tuple[
        subprocess.CompletedProcess[str], dict[str, str], list[list[str]]]:
    log = tmp_path / "argv.log"
    proc, outputs = run_step(load(UPDATE), "update", "Update the matrix", cwd=tmp_path,
                             bin_dir=bin_dir, env={"FAKE_RC": str(rc), "ARGV_LOG": str(log),
                                                   "ENTRIES": "", "REASONS": "", **env})
    return proc, outputs, calls(log)


@pytest.mark.parametrize(("rc", "changed"), [(NOTHING_TO_DO, "false"), (UPDATED, "true"),
                                             (PARTIAL, "true")])
def test_update_step_outcomes_that_succeed(tmp_path: Path, fake_clamp: Path, rc: int,
                                           changed: str) -> None:
    proc, outputs, argv = run_update_step(tmp_path, fake_clamp, rc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outputs == {"changed": changed}
    assert argv == [["update", "--matrix", "ci/rocm_matrix.yml",
                     "--pr-body", "build/update/pr-body.md",
                     "--provenance-output", "build/update/rocm_provenance.json"]]
    assert "clamp stand-in ran" in (tmp_path / "build/update/clamp-update.log").read_text()


@pytest.mark.parametrize("rc", [6, 2, 3, 64, 69, 70, 75, 1])
def test_update_step_fails_the_job_on_anything_else(tmp_path: Path, fake_clamp: Path,
                                                    rc: int) -> None:
    proc, outputs, _ = run_update_step(tmp_path, fake_clamp, rc)
    assert proc.returncode == rc
    assert f"::error::clamp update exited with code {rc}" in proc.stdout
    assert "changed" not in outputs


HOSTILE = '6.4.4/ubuntu-22.04,$(touch pwned1);touch pwned2 `touch pwned3` "quoted" \\ end'


def test_dispatch_inputs_reach_clamp_as_data(tmp_path: Path, fake_clamp: Path) -> None:
    proc, outputs, argv = run_update_step(tmp_path, fake_clamp, UPDATED, ENTRIES=HOSTILE,
                                          REASONS="drift; $(touch pwned4)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outputs == {"changed": "true"}
    assert argv[0][-2:] == ["--entries", HOSTILE]
    assert "Requested because: drift; $(touch pwned4)" in proc.stdout
    assert list(tmp_path.glob("pwned*")) == []


def test_verify_steps_in_both_jobs_map_exit_codes_alike(tmp_path: Path, fake_clamp: Path) -> None:
    workflow = load(VERIFY)
    for job in ("verify", "verify-dispatch"):
        for rc, ok in [(0, True), (1, True), (2, False), (3, False), (64, False), (69, False),
                       (71, False)]:
            work = tmp_path / f"{job}-{rc}"
            work.mkdir()
            log = work / "argv.log"
            proc, _ = run_step(workflow, job, "Verify the matrix", cwd=work, bin_dir=fake_clamp,
                               env={"FAKE_RC": str(rc), "ARGV_LOG": str(log)})
            assert (proc.returncode == 0) is ok, (job, rc, proc.stdout)
            if not ok:
                assert proc.returncode == rc
            assert calls(log) == [["verify", "--matrix", "ci/rocm_matrix.yml",
                                   "--output", "build/rocm_provenance.json"]]
            assert (work / "build/verify.log").read_text().startswith("clamp stand-in ran")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> tuple[Path, Path]:
    """A clone of a real bare remote, main holding ci/rocm_matrix.yml, as actions/checkout leaves
    it (no credentials), with the matrix then rewritten as `clamp update` would."""
    origin = tmp_path / "origin.git"
    work = tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(tmp_path, "clone", "--quiet", str(origin), str(work))
    (work / "ci").mkdir()
    (work / "ci/rocm_matrix.yml").write_text("images:\n  - digest: sha256:aaaa  # old\n")
    (work / "README.md").write_text("x\n")
    git(work, "add", ".")
    git(work, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "--quiet", "-m", "init")
    git(work, "push", "--quiet", "origin", "main")
    (work / "ci/rocm_matrix.yml").write_text("images:\n  - digest: sha256:bbbb  # old\n")
    (work / "build/update").mkdir(parents=True)
    (work / "build/update/pr-body.md").write_text("| entry | old | new |\n")
    (work / "build/update/clamp-update.log").write_text("log\n")
    return origin, work


def run_pr_step(tmp_path: Path, work: Path, *, open_pr: str = "", reasons: str = "") -> tuple[
        subprocess.CompletedProcess[str], list[list[str]]]:
    bin_dir = tmp_path / "bin"
    stand_in(bin_dir, "gh", RECORD_ARGV + '\nif [[ "$1 $2" == "pr list" ]]; then '
             'echo "$OPEN_PR"; fi')
    log = tmp_path / "gh.log"
    proc, _ = run_step(load(UPDATE), "update", "Push the branch", cwd=work, bin_dir=bin_dir,
                       env={"GH_TOKEN": "ghs_not_a_real_token", "REASONS": reasons,
                            "ARGV_LOG": str(log), "OPEN_PR": open_pr,
                            "GITHUB_REF_NAME": "main", "GITHUB_REPOSITORY": "owner/repo",
                            "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "42"})
    return proc, calls(log)


def test_pr_step_pushes_only_the_matrix_and_opens_the_pull_request(
        tmp_path: Path, checkout: tuple[Path, Path]) -> None:
    origin, work = checkout
    proc, gh = run_pr_step(tmp_path, work, reasons="tag drift on `6.4.4/ubuntu-22.04`\r")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    branch = "clamp/auto-update-rocm"
    changed = git(origin, "diff", "--name-only", "main", branch).splitlines()
    assert changed == ["ci/rocm_matrix.yml"]
    assert git(origin, "log", "-1", "--format=%s", branch) == "Auto-update ROCm matrix"
    body = "build/update/pr-body.md"
    assert gh[0][:2] == ["pr", "list"] and gh[0][gh[0].index("--head") + 1] == branch
    assert gh[1] == ["pr", "create", "--repo", "owner/repo", "--base", "main", "--head", branch,
                     "--title", "Auto-update ROCm matrix", "--body-file", body]
    text = (work / body).read_text()
    assert text.endswith("Requested by the verify workflow: tag drift on 6.4.4/ubuntu-22.04\n")
    assert "ghs_not_a_real_token" not in proc.stdout + proc.stderr
    assert "| entry | old | new |" in (work / "github_step_summary").read_text()


def test_pr_step_updates_an_open_pull_request_and_force_pushes(
        tmp_path: Path, checkout: tuple[Path, Path]) -> None:
    origin, work = checkout
    proc, _ = run_pr_step(tmp_path, work)
    assert proc.returncode == 0, proc.stderr
    first = git(origin, "rev-parse", "clamp/auto-update-rocm")
    # The next run starts again from main, as a fresh checkout would.
    git(work, "switch", "--quiet", "main")
    (work / "ci/rocm_matrix.yml").write_text("images:\n  - digest: sha256:cccc  # old\n")
    (tmp_path / "gh.log").unlink()
    proc, gh = run_pr_step(tmp_path, work, open_pr="17")
    assert proc.returncode == 0, proc.stderr
    assert git(origin, "rev-parse", "clamp/auto-update-rocm") != first
    assert git(origin, "rev-list", "--count", "main..clamp/auto-update-rocm") == "1"
    assert gh[1] == ["pr", "edit", "17", "--repo", "owner/repo", "--title",
                     "Auto-update ROCm matrix", "--body-file", "build/update/pr-body.md"]
    assert len(gh) == 2


def test_pr_step_refuses_a_claimed_update_that_changed_nothing(
        tmp_path: Path, checkout: tuple[Path, Path]) -> None:
    origin, work = checkout
    git(work, "checkout", "--quiet", "--", "ci/rocm_matrix.yml")
    proc, gh = run_pr_step(tmp_path, work)
    assert proc.returncode == 1
    assert "::error::clamp update reported a change but ci/rocm_matrix.yml is unchanged" in \
        proc.stdout
    assert gh == []
    assert git(origin, "branch", "--list", "clamp/auto-update-rocm") == ""


def test_pr_step_refuses_to_open_a_pull_request_without_a_body(
        tmp_path: Path, checkout: tuple[Path, Path]) -> None:
    _, work = checkout
    (work / "build/update/pr-body.md").write_text("")
    proc, gh = run_pr_step(tmp_path, work)
    assert proc.returncode == 1 and gh == []

