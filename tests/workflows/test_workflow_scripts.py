"""The workflows' shell steps, run for real with bash -eo pipefail as the runner does.

`clamp` and `gh` are stand-ins here (a recorded argv and a chosen exit code): what is under test is
the step's own logic — which exit codes open a pull request, which fail the job, that dispatch
inputs reach clamp as one literal argument, and that the branch and pull request come out right
against a real git remote.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflows.wf import UPDATE, VERIFY, load, run_step, stand_in, step, steps

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
    assert outputs == ({"changed": changed, "nothing": "true"} if rc == NOTHING_TO_DO
                       else {"changed": changed})
    assert argv == [["update", "--matrix", "ci/rocm_matrix.yml", "--discover",
                     "--pr-body", "build/update/pr-body.md",
                     "--provenance-output", "build/update/rocm_provenance.json"]]
    assert "clamp stand-in ran" in (tmp_path / "build/update/clamp-update.log").read_text()


@pytest.mark.parametrize("rc", [6, 2, 3, 8, 64, 69, 70, 75, 1])
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


def test_update_step_on_a_pin_that_no_longer_verifies(tmp_path: Path, fake_clamp: Path) -> None:
    """9: what verified is still proposed (changed=true when the matrix differs), and the
    job's last step fails it."""
    for changed in (False, True):
        work = tmp_path / f"changed-{changed}"
        (work / "ci").mkdir(parents=True)
        git(work, "init", "--quiet")
        (work / "ci/rocm_matrix.yml").write_text("images: []\n")
        git(work, "add", ".")
        git(work, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "--quiet", "-m", "x")
        if changed:
            (work / "ci/rocm_matrix.yml").write_text("images: [] # re-pinned\n")
        proc, outputs, _ = run_update_step(work, fake_clamp, 9)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert outputs == {"unverified": "true", "changed": str(changed).lower()}
        assert "::error::clamp update: pins no longer verify" in proc.stdout
    workflow = load(UPDATE)
    final = [s for _, s in steps(workflow) if "unverified" in str(s.get("if", ""))]
    assert len(final) == 1 and "exit 9" in final[0]["run"]
    names = [str(s.get("name")) for _, s in steps(workflow)]
    assert names.index(final[0]["name"]) > names.index(
        "Push the branch and open or update the pull request")


JOBS = ("verify", "verify-dispatch")


@pytest.fixture(scope="module")
def demo_matrix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real matrix (the demo's, in warn mode over an OCI layout: exit 0 with warnings)."""
    from tests.verify.conftest import build_demo

    return build_demo(tmp_path_factory.mktemp("wf-demo")).matrix


def verify_clamp(bin_dir: Path) -> Path:
    """`clamp`: `provenance check` (and FAKE_MODE=real) run the real clamp; otherwise the
    stand-in records its argv, may write $FAKE_PROVENANCE to $PROVENANCE, and exits $FAKE_RC
    (FAKE_MODE=crash: a Python that cannot import clamp, as a broken install exits)."""
    stand_in(bin_dir, "clamp", f"""
real() {{ exec {sys.executable} -m clamp "$@"; }}
if [[ "$1" == provenance ]]; then real "$@"; fi
{RECORD_ARGV}
case "${{FAKE_MODE:-}}" in
  real) real "$@" ;;
  crash) exec {sys.executable} -c "import clamp_is_not_installed" ;;
esac
if [[ -n "${{FAKE_PROVENANCE:-}}" ]]; then cp "$FAKE_PROVENANCE" "$PROVENANCE"; fi
echo "clamp stand-in ran"
exit "$FAKE_RC"
""")
    return bin_dir


def run_verify_step(work: Path, job: str, demo_matrix: Path, **env: str) -> tuple[
        subprocess.CompletedProcess[str], list[list[str]]]:
    work.mkdir(parents=True, exist_ok=True)
    log = work / "argv.log"
    proc, _ = run_step(load(VERIFY), job, "Verify the matrix", cwd=work,
                       bin_dir=verify_clamp(work / "bin"),
                       env={"FAKE_RC": "0", "ARGV_LOG": str(log), "MATRIX": str(demo_matrix),
                            **env})
    return proc, calls(log)


@pytest.mark.parametrize("job", JOBS)
def test_verify_step_passes_a_real_run_with_its_provenance(tmp_path: Path, job: str,
                                                           demo_matrix: Path) -> None:
    proc, argv = run_verify_step(tmp_path, job, demo_matrix, FAKE_MODE="real")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert argv == [["verify", "--matrix", str(demo_matrix),
                     "--output", "build/rocm_provenance.json", "--sarif", "build/clamp.sarif"]]
    assert "records (one per pinned entry)" in proc.stdout + proc.stderr
    assert (tmp_path / "build/verify.log").read_text()


@pytest.mark.parametrize("job", JOBS)
def test_verify_step_fails_when_clamp_crashes(tmp_path: Path, job: str,
                                              demo_matrix: Path) -> None:
    """The seam of issue 13: a broken install exits 1 before clamp runs. It used to pass."""
    proc, _ = run_verify_step(tmp_path, job, demo_matrix, FAKE_MODE="crash")
    assert proc.returncode == 1
    assert "::error::clamp verify exited with code 1" in proc.stdout
    assert "ModuleNotFoundError" in (tmp_path / "build/verify.log").read_text()


@pytest.mark.parametrize("job", JOBS)
@pytest.mark.parametrize("rc", [1, 2, 3, 4, 5, 8, 64, 69, 70, 71])
def test_verify_step_accepts_only_exit_0(tmp_path: Path, job: str, rc: int,
                                         demo_matrix: Path) -> None:
    proc, argv = run_verify_step(tmp_path, job, demo_matrix, FAKE_RC=str(rc))
    assert proc.returncode == rc
    assert f"::error::clamp verify exited with code {rc}" in proc.stdout
    assert len(argv) == 1  # and no provenance check ran after a failure


@pytest.mark.parametrize("job", JOBS)
def test_verify_step_fails_when_exit_0_wrote_no_provenance(tmp_path: Path, job: str,
                                                           demo_matrix: Path) -> None:
    # A file from an earlier run is removed first: it cannot pass for this run's evidence.
    (tmp_path / "build").mkdir(parents=True)
    (tmp_path / "build/rocm_provenance.json").write_text("{}")
    proc, _ = run_verify_step(tmp_path, job, demo_matrix)
    assert proc.returncode == 64, proc.stdout + proc.stderr
    assert "no provenance file" in proc.stderr


@pytest.fixture(scope="module")
def real_provenance(demo_matrix: Path) -> tuple[Path, Path]:
    """What a real `clamp verify` wrote for the whole matrix, and for one version only."""
    out = []
    for name, extra in (("whole", ()), ("partial", ("--version", "6.3.4"))):
        path = demo_matrix.parent / f"{name}-provenance.json"
        assert subprocess.run([sys.executable, "-m", "clamp", "verify", "--matrix",
                               str(demo_matrix), "-o", str(path), *extra], capture_output=True,
                              check=False).returncode == 0
        out.append(path)
    return out[0], out[1]


@pytest.mark.parametrize("job", JOBS)
def test_verify_step_fails_on_provenance_that_is_not_this_runs(
        tmp_path: Path, job: str, demo_matrix: Path, real_provenance: tuple[Path, Path]) -> None:
    whole, partial = real_provenance
    # Written for one version only: entries are missing a record.
    proc, _ = run_verify_step(tmp_path / "a", job, demo_matrix, FAKE_PROVENANCE=str(partial))
    assert proc.returncode == 64 and "entries without a record" in proc.stderr
    # Valid JSON that is not a provenance document.
    bogus = tmp_path / "bogus.json"
    bogus.write_text(json.dumps({"schemaVersion": 1, "records": []}))
    proc, _ = run_verify_step(tmp_path / "b", job, demo_matrix, FAKE_PROVENANCE=str(bogus))
    assert proc.returncode == 64 and "not a valid provenance document" in proc.stderr
    # The whole document, but for other matrix bytes.
    doc = json.loads(whole.read_text())
    doc["matrix"]["sha256"] = "0" * 64
    other = tmp_path / "other.json"
    other.write_text(json.dumps(doc))
    proc, _ = run_verify_step(tmp_path / "c", job, demo_matrix, FAKE_PROVENANCE=str(other))
    assert proc.returncode == 64 and "other matrix bytes" in proc.stderr
    # The honest twin: this matrix's whole document passes.
    proc, _ = run_verify_step(tmp_path / "d", job, demo_matrix, FAKE_PROVENANCE=str(whole))
    assert proc.returncode == 0, proc.stderr


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


#: A stand-in gh: records argv; `pr list` prints $OPEN_PR, `pr create` the new PR's URL, and
#: `pr edit --add-label` exits $LABEL_RC (a label the token may not set).
GH = RECORD_ARGV + """
if [[ "$1 $2" == "pr list" ]]; then echo "$OPEN_PR"; fi
if [[ "$1 $2" == "pr create" ]]; then echo "https://github.com/owner/repo/pull/18"; fi
if [[ "$1 $2" == "pr edit" && " $* " == *" --add-label "* ]]; then exit "${LABEL_RC:-0}"; fi
"""


def run_pr_step(tmp_path: Path, work: Path, *, open_pr: str = "", reasons: str = "",
                gh_body: str = GH,
                step_name: str = "Push the branch", label_rc: int = 0,
                **env: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    bin_dir = tmp_path / "bin"
    stand_in(bin_dir, "gh", gh_body)
    log = tmp_path / "gh.log"
    proc, _ = run_step(load(UPDATE), "update", step_name, cwd=work, bin_dir=bin_dir,
                       env={"GH_TOKEN": "ghs_not_a_real_token", "REASONS": reasons,
                            "ARGV_LOG": str(log), "OPEN_PR": open_pr,
                            "LABEL_RC": str(label_rc), **env,
                            "GITHUB_REF_NAME": "main", "GITHUB_REPOSITORY": "owner/repo",
                            "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "42"})
    return proc, calls(log)


def test_pr_step_pushes_only_the_matrix_and_opens_the_pull_request(
        tmp_path: Path, checkout: tuple[Path, Path]) -> None:
    origin, work = checkout
    proc, gh = run_pr_step(tmp_path, work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    branch = "clamp/auto-update-rocm"
    changed = git(origin, "diff", "--name-only", "main", branch).splitlines()
    assert changed == ["ci/rocm_matrix.yml"]
    assert git(origin, "log", "-1", "--format=%s", branch) == "Auto-update ROCm matrix"
    body = "build/update/pr-body.md"
    assert gh[0][:2] == ["pr", "list"] and gh[0][gh[0].index("--head") + 1] == branch
    assert gh[1] == ["pr", "create", "--repo", "owner/repo", "--base", "main", "--head", branch,
                     "--title", "Auto-update ROCm matrix", "--body-file", body]
    assert gh[2][:3] == ["label", "create", "dependencies"]
    assert gh[3] == ["pr", "edit", "18", "--repo", "owner/repo", "--add-label", "dependencies"]
    assert (work / body).read_text() == "| entry | old | new |\n"  # clamp's body, as written
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
    assert gh[3] == ["pr", "edit", "17", "--repo", "owner/repo", "--add-label", "dependencies"]
    assert len(gh) == 4


def test_pr_step_labels_as_the_caller_asks_and_a_refused_label_is_only_a_warning(
        tmp_path: Path, checkout: tuple[Path, Path]) -> None:
    _, work = checkout
    proc, gh = run_pr_step(tmp_path, work, label_rc=1, LABELS_INPUT="deps, rocm ,")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    added = [c[c.index("--add-label") + 1] for c in gh if "--add-label" in c]
    assert added == ["deps", "rocm"]
    assert proc.stdout.count("::warning::could not label pull request #18") == 2


def test_close_step_closes_the_open_pull_request_when_nothing_is_left(
        tmp_path: Path, checkout: tuple[Path, Path]) -> None:
    _, work = checkout
    proc, gh = run_pr_step(tmp_path, work, open_pr="17",
                           step_name="Close the pull request when nothing is left")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert gh[0][:2] == ["pr", "list"]
    assert gh[1][:6] == ["pr", "close", "17", "--repo", "owner/repo", "--delete-branch"]
    assert "nothing left to update" in gh[1][-1] and "/actions/runs/42" in gh[1][-1]


def test_close_step_with_no_open_pull_request_does_nothing(
        tmp_path: Path, checkout: tuple[Path, Path]) -> None:
    _, work = checkout
    proc, gh = run_pr_step(tmp_path, work, step_name="Close the pull request when nothing")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [c[:2] for c in gh] == [["pr", "list"]]


def test_close_step_runs_only_when_clamp_said_nothing_to_do() -> None:
    close = step(load(UPDATE), "update", "Close the pull request")
    assert close["if"] == "steps.update.outputs.nothing == 'true'"


@pytest.mark.parametrize(("repository", "ref", "rc", "source"), [
    ("", "", 0, "."),
    ("owner/clamp", "a" * 40, 0, ".clamp-src"),
    ("owner/clamp", "v1.2.3", 64, None),  # a tag can move: only a commit SHA is accepted
    ("owner/clamp", "", 64, None),
])
def test_install_step_installs_this_checkout_or_the_callers_clamp_by_sha(
        tmp_path: Path, repository: str, ref: str, rc: int, source: str | None) -> None:
    bin_dir = tmp_path / "bin"
    log = tmp_path / "argv.log"
    stand_in(bin_dir, "python", RECORD_ARGV)
    proc, _ = run_step(load(UPDATE), "update", "Install clamp", cwd=tmp_path, bin_dir=bin_dir,
                       env={"CLAMP_REPOSITORY": repository, "CLAMP_REF": ref,
                            "ARGV_LOG": str(log)})
    assert proc.returncode == rc, proc.stdout + proc.stderr
    if source is None:
        assert not calls(log)
        return
    assert calls(log) == [
        ["-m", "pip", "install", "--require-hashes", "--no-deps", "-r",
         f"{source}/requirements/ci.lock"],
        ["-m", "pip", "install", "--no-deps", "--no-build-isolation", source]]


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



# Red team 11: the pull request flow's edges.

HIDDEN = "drift\n<!-- approve me -->\n@octo-org/admins ![x](https://evil.example/p.png)"


def test_dispatch_reasons_never_reach_the_pr_body_raw(
        tmp_path: Path, checkout: tuple[Path, Path]) -> None:
    """The PR step used to append the dispatch's reasons to the body with only backticks and CRs
    removed: HTML comments, images and @mentions went in as written. They reach the body only
    through clamp now (prbody.text_cell); the step leaves clamp's body as it is."""
    _, work = checkout
    proc, _ = run_pr_step(tmp_path, work, reasons=HIDDEN)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (work / "build/update/pr-body.md").read_text() == "| entry | old | new |\n"


def test_update_step_prints_the_reasons_on_one_line(tmp_path: Path, fake_clamp: Path) -> None:
    """A newline in the reasons must not start a line the runner reads as a workflow command;
    the honest reasons are still printed whole."""
    proc, _, _ = run_update_step(tmp_path, fake_clamp, UPDATED,
                                 REASONS="drift\n::stop-commands::x\r\n::add-mask::y",
                                 CLAMP_UPDATE_REASONS="drift")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line for line in proc.stdout.replace("\r", "\n").splitlines()
            if line.strip().startswith("::")] == []
    assert "Requested because: drift ::stop-commands::x" in proc.stdout
    honest, _, _ = run_update_step(tmp_path, fake_clamp, UPDATED, REASONS="tag drift on 6.4.4")
    assert "Requested because: tag drift on 6.4.4\n" in honest.stdout


@pytest.mark.parametrize("answer", ["", "created", "https://github.com/owner/repo/pull/",
                                    "https://github.com/owner/repo/pull/0",
                                    "https://github.com/owner/repo/pull/18\nhttps://x/pull/19"])
def test_pr_create_that_names_no_pull_request_fails_the_step(
        tmp_path: Path, checkout: tuple[Path, Path], answer: str) -> None:
    """`gh pr create` exiting 0 without a pull request's URL (an odd API answer) is not
    "Opened": the step fails and labels nothing. Its honest twin is the test above (a URL
    ending in /pull/18 opens #18)."""
    _, work = checkout
    odd = GH.replace('echo "https://github.com/owner/repo/pull/18"', f"printf '%b' {answer!r}")
    proc, gh = run_pr_step(tmp_path, work, gh_body=odd)
    assert proc.returncode != 0, proc.stdout
    assert "::error::gh pr create did not answer with a pull request URL" in proc.stdout
    assert "Opened" not in proc.stdout
    assert not [call for call in gh if call[:2] == ["pr", "edit"]]


def test_pr_list_that_answers_no_number_fails_the_step(
        tmp_path: Path, checkout: tuple[Path, Path]) -> None:
    _, work = checkout
    proc, gh = run_pr_step(tmp_path, work, open_pr="12; rm -rf /")
    assert proc.returncode != 0, proc.stdout
    assert "answered no pull request number" in proc.stdout
    assert not [call for call in gh if call[:2] in (["pr", "edit"], ["pr", "create"])]
    # Its honest twin: test_pr_step_updates_an_open_pull_request_and_force_pushes (a number).


def test_update_step_prints_no_legacy_workflow_command(tmp_path: Path, fake_clamp: Path) -> None:
    """Red team 13: the runner also obeys `##[cmd]data` anywhere in a line (actions/runner's
    legacy form), so `Requested because: ##[set-output name=changed]true` set an output and
    `##[stop-commands]x` hid the annotations after it. The prefix is broken now; honest
    reasons with `#` or `[` stay as written."""
    proc, _, _ = run_update_step(tmp_path, fake_clamp, UPDATED,
                                 REASONS="drift ##[set-output name=changed]true ##[stop-commands]x",
                                 CLAMP_UPDATE_REASONS="drift")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("Requested because:"))
    assert "##[" not in line and "## [set-output name=changed]true" in line
    honest, _, _ = run_update_step(tmp_path, fake_clamp, UPDATED, REASONS="issue #12 [x] ## y")
    assert "Requested because: issue #12 [x] ## y\n" in honest.stdout
