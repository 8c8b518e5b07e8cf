"""The two workflows' contract, read from the YAML: triggers, inputs, permissions, pinning, and
that no expression is expanded inside a shell script."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.workflows.wf import EXPRESSION, UPDATE, VERIFY, WORKFLOWS, load, step, steps

SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)\s*(#.*)?$")
# The hygiene rules hold for every workflow in the repository, not just these two.
ALL = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


@pytest.fixture(scope="module")
def verify() -> dict[str, Any]:
    return load(VERIFY)


@pytest.fixture(scope="module")
def update() -> dict[str, Any]:
    return load(UPDATE)


def test_both_workflows_exist() -> None:
    assert {VERIFY, UPDATE} <= set(ALL)


def test_update_triggers_and_inputs(update: dict[str, Any]) -> None:
    on = update["on"]
    assert set(on) == {"workflow_dispatch", "schedule", "workflow_call"}
    # Reusable from other repositories: the same inputs, plus which matrix, which clamp, labels.
    assert set(on["workflow_call"]["inputs"]) == {"entries", "reasons", "matrix", "labels",
                                                 "clamp-repository", "clamp-ref"}
    assert all(spec["required"] is False for spec in on["workflow_call"]["inputs"].values())
    inputs = on["workflow_dispatch"]["inputs"]
    # The inputs `clamp verify --dispatch` sends; both optional strings so a manual run needs none.
    assert set(inputs) == {"entries", "reasons"}
    for spec in inputs.values():
        assert spec["type"] == "string"
        assert spec["required"] is False
        assert spec["default"] == ""
    assert [len(s["cron"].split()) for s in on["schedule"]] == [5]
    assert on["schedule"][0]["cron"].split()[2:4] == ["*", "*"]  # weekly: any day of month
    assert on["schedule"][0]["cron"].split()[4] != "*"


def test_verify_triggers(verify: dict[str, Any]) -> None:
    assert {"push", "pull_request", "schedule"} <= set(verify["on"])
    assert "pull_request_target" not in verify["on"]
    assert "workflow_run" not in verify["on"]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_top_level_permissions_are_empty(path: Any) -> None:
    assert load(path)["permissions"] == {}


def test_job_permissions_are_least_privilege(verify: dict[str, Any],
                                            update: dict[str, Any]) -> None:
    assert {j: job["permissions"] for j, job in verify["jobs"].items()} == {
        "verify": {"contents": "read"},
        "verify-dispatch": {"contents": "read", "actions": "write", "security-events": "write"},
    }
    assert update["jobs"]["update"]["permissions"] == {"contents": "write",
                                                      "pull-requests": "write"}


def test_write_capable_verify_job_never_runs_for_pull_requests(verify: dict[str, Any]) -> None:
    read_only, dispatching = verify["jobs"]["verify"], verify["jobs"]["verify-dispatch"]
    assert "github.event_name == 'pull_request'" in read_only["if"]
    assert "github.event_name != 'pull_request'" in dispatching["if"]
    assert "default_branch" in dispatching["if"]
    # Both jobs run the same verification; only the dispatching one hands clamp the token.
    token_steps = [(j, s["name"]) for j, s in steps(verify) if "GITHUB_TOKEN" in s.get("env", {})]
    assert token_steps == [("verify-dispatch",
                            "Verify the matrix (dispatches update-rocm.yml under auto_update)")]
    plain = [s["run"] for j, s in steps(verify) if j == "verify" and "clamp verify" in
             s.get("run", "")]
    with_token = [s["run"] for j, s in steps(verify) if j == "verify-dispatch" and
                  "clamp verify" in s.get("run", "")]
    assert len(plain) == len(with_token) == 1
    assert "clamp verify --matrix \"$MATRIX\"" in plain[0]
    assert verify["env"]["MATRIX"] == "ci/rocm_matrix.yml"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_action_is_pinned_by_full_sha_with_a_version_comment(path: Any) -> None:
    uses = [s["uses"] for _, s in steps(load(path)) if "uses" in s]
    assert uses, "no actions found"
    assert all(SHA_PIN.match(u) for u in uses), uses
    for line in path.read_text().splitlines():
        if m := USES_LINE.match(line):
            assert m.group(2) and re.match(r"#\s*v\d+(\.\d+)*\b", m.group(2)), line


def test_same_action_same_pin_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in ALL:
        for _, s in steps(load(path)):
            if "uses" in s:
                name, sha = s["uses"].split("@")
                pins.setdefault(name, set()).add(sha)
    assert {name for name, shas in pins.items() if len(shas) > 1} == set()
    assert {"actions/checkout", "actions/setup-python", "actions/upload-artifact"} <= set(pins)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_expression_inside_run_scripts(path: Any) -> None:
    for job_id, s in steps(load(path)):
        if "run" in s:
            assert not EXPRESSION.search(s["run"]), f"{job_id}/{s.get('name')}: ${{{{ }}}} in run:"
    text = path.read_text()
    assert "${{ github.event" not in "".join(s.get("run", "") for _, s in steps(load(path)))
    assert "head_ref" not in text


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_checkout_never_persists_credentials(path: Any) -> None:
    checkouts = [s for _, s in steps(load(path)) if s.get("uses", "").startswith(
        "actions/checkout@")]
    assert checkouts
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_jobs_have_timeouts_and_the_workflow_a_concurrency_group(path: Any) -> None:
    workflow = load(path)
    assert workflow["concurrency"]["group"]
    for job in workflow["jobs"].values():
        assert job["timeout-minutes"] > 0
        if path in (VERIFY, UPDATE):
            assert job["timeout-minutes"] <= 30
            assert job["runs-on"] != "ubuntu-latest"  # a fixed image: no silent runner changes


def test_update_never_cancels_a_running_update(update: dict[str, Any]) -> None:
    # One group for the whole workflow: every run writes the same branch and pull request.
    assert update["concurrency"] == {"group": "${{ github.workflow }}",
                                     "cancel-in-progress": False}


LOCKED_INSTALL = ["python -m pip install --require-hashes --no-deps -r requirements/ci.lock",
                  "python -m pip install --no-deps --no-build-isolation .",
                  # update-rocm.yml, which may install the clamp its caller names ($src)
                  'python -m pip install --require-hashes --no-deps -r "$src/requirements/ci.lock"',
                  'python -m pip install --no-deps --no-build-isolation "$src"']


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_pip_install_is_hash_locked(path: Any) -> None:
    """No workflow installs an unpinned package: the lock with --require-hashes, then clamp
    itself from the checkout with --no-deps and the locked build backend."""
    for _, a_step in steps(load(path)):
        for line in str(a_step.get("run", "")).splitlines():
            if "pip install" in line:
                assert line.strip() in LOCKED_INSTALL, line


def test_update_installs_from_checkout_and_opens_the_exact_pr(update: dict[str, Any]) -> None:
    assert update["env"]["PR_TITLE"] == "Auto-update ROCm matrix"
    assert update["env"]["BRANCH"] == "clamp/auto-update-rocm"
    assert update["env"]["MATRIX"] == "ci/rocm_matrix.yml"
    install = step(update, "update", "Install clamp")
    assert [line.strip() for line in install["run"].splitlines()
            if "pip install" in line] == LOCKED_INSTALL[2:]
    run = step(update, "update", "Update the matrix")
    assert "clamp update" in run["run"]
    assert run["env"] == {"ENTRIES": "${{ inputs.entries }}", "REASONS": "${{ inputs.reasons }}",
                          "CLAMP_UPDATE_REASONS": "${{ inputs.reasons }}"}
    pr = step(update, "update", "Push the branch")
    # The reasons reach the body only through clamp, escaped (red team 11): never raw.
    assert "REASONS" not in pr["env"] and "REASONS" not in pr["run"]
    assert pr["if"] == "steps.update.outputs.changed == 'true'"
    assert pr["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert 'gh pr create' in pr["run"] and 'gh pr edit' in pr["run"]
    assert pr["run"].count('--title "$PR_TITLE"') == 2


def test_sarif_goes_to_code_scanning_only_from_the_job_allowed_to(verify: dict[str, Any]
                                                                 ) -> None:
    uploads = [(j, s) for j, s in steps(verify)
               if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    assert [j for j, _ in uploads] == ["verify-dispatch"]
    (_, step), = uploads
    assert step["with"]["sarif_file"] == verify["env"]["SARIF"] == "build/clamp.sarif"
    assert step["if"].startswith("${{ !cancelled()")
    granted = [j for j, job in verify["jobs"].items()
               if job["permissions"].get("security-events") == "write"]
    assert granted == ["verify-dispatch"]


@pytest.mark.parametrize("path", [VERIFY, UPDATE], ids=lambda p: p.name)
def test_evidence_is_uploaded_even_after_a_failure(path: Any) -> None:
    uploads = [s for _, s in steps(load(path)) if s.get("uses", "").startswith(
        "actions/upload-artifact@")]
    assert uploads
    for s in uploads:
        assert s["if"] == "${{ !cancelled() }}"
        assert "rocm_provenance.json" in s["with"]["path"] or s["with"]["path"] == "build/update/"


class _Context:
    """`github.*` for the job conditions: attribute access into a dict, None when missing."""

    def __init__(self, data: Any) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        value = self._data.get(name) if isinstance(self._data, dict) else None
        return _Context(value) if isinstance(value, dict) else value


def _evaluate(condition: str, github: dict[str, Any]) -> bool:
    """The two operators and one function the verify jobs' `if:` use, evaluated as Python."""
    assert set(re.findall(r"[A-Za-z_]+\(", condition)) <= {"format("}, condition
    python = condition.replace("&&", " and ").replace("||", " or ").replace("\n", " ")
    scope = {"github": _Context(github), "format": lambda f, *a: f.format(*a)}
    return bool(eval(f"({python})", {"__builtins__": {}}, scope))


REPO = {"default_branch": "main"}


@pytest.mark.parametrize(("github", "expected"), [
    ({"event_name": "pull_request", "ref": "refs/pull/7/merge", "event": {"repository": REPO}},
     "verify"),
    ({"event_name": "pull_request", "ref": "refs/heads/main", "event": {"repository": REPO}},
     "verify"),
    ({"event_name": "push", "ref": "refs/heads/main", "event": {"repository": REPO}},
     "verify-dispatch"),
    ({"event_name": "push", "ref": "refs/heads/feature", "event": {"repository": REPO}},
     "verify"),
    ({"event_name": "schedule", "ref": "refs/heads/main", "event": {"schedule": "17 5 * * *"}},
     "verify-dispatch"),
    ({"event_name": "workflow_dispatch", "ref": "refs/heads/main", "event": {"repository": REPO}},
     "verify-dispatch"),
    ({"event_name": "workflow_dispatch", "ref": "refs/heads/x", "event": {"repository": REPO}},
     "verify"),
], ids=lambda v: v if isinstance(v, str) else f"{v['event_name']}:{v['ref']}")
def test_exactly_one_verify_job_runs_per_event(verify: dict[str, Any], github: dict[str, Any],
                                               expected: str) -> None:
    running = [j for j, job in verify["jobs"].items() if _evaluate(job["if"], github)]
    assert running == [expected]
