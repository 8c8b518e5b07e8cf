"""auto_update dispatch against a local stand-in for GitHub's API that checks the contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from clamp.demo.scenario import DemoResult
from tests.support.github_api import github_api

TOKEN = "ghs_" + "S3cretT0ken" * 3


def clamp(*args: str) -> int:
    return invoke(app, list(args), prog_name="clamp")


@pytest.fixture()
def auto_matrix(demo_world: DemoResult, tmp_path: Path) -> Path:
    text = demo_world.matrix.read_text().replace("policy: warn", "policy: auto_update")
    text = text.replace("resolve:", "dispatch:\n  workflow: update-rocm.yml\n  ref: main\nresolve:")
    path = demo_world.matrix.parent / f"auto-{tmp_path.name}.yml"
    path.write_text(text)
    return path


def _env(monkeypatch: pytest.MonkeyPatch, url: str, token: str = TOKEN) -> None:
    monkeypatch.setenv("GITHUB_API_URL", url)
    monkeypatch.setenv("GITHUB_TOKEN", token)
    monkeypatch.setenv("GITHUB_REPOSITORY", "rocm/clamp-ci")


def test_auto_update_dispatches_with_entries_and_reasons(
        auto_matrix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "prov.json"
    with github_api(TOKEN) as gh:
        _env(monkeypatch, gh.url)
        code = clamp("verify", "--matrix", str(auto_matrix), "-o", str(out))
    assert code == 1
    (request,) = gh.requests
    assert request.path == "/repos/rocm/clamp-ci/actions/workflows/update-rocm.yml/dispatches"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert request.body["ref"] == "main"
    entries = set(request.body["inputs"]["entries"].split(","))
    # drift and failed signatures ask for an update; a clean entry does not
    assert {"5.7.1/ubuntu-22.04", "6.1.2/ubuntu-22.04", "6.2.4/ubuntu-22.04"} <= entries
    assert "6.4.4/ubuntu-24.04" not in entries
    assert "drift" in request.body["inputs"]["reasons"]
    doc = json.loads(out.read_text())
    assert doc["dispatch"]["status"] == "dispatched"
    assert {r["entry"]: r["policyDecision"] for r in doc["records"]}["5.7.1/ubuntu-22.04"] == \
        "update"
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err + out.read_text()


@pytest.mark.parametrize(("setup", "needle"), [
    ("bad-token", "401"), ("unknown-workflow", "404"), ("bad-inputs", "422"),
    ("server-error", "500")])
def test_dispatch_refusals_exit_71_and_never_print_the_token(
        auto_matrix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], setup: str, needle: str) -> None:
    out = tmp_path / "prov.json"
    allowed = frozenset({"entries"}) if setup == "bad-inputs" else frozenset({"entries",
                                                                               "reasons"})
    workflows = frozenset({"other.yml"}) if setup == "unknown-workflow" else \
        frozenset({"update-rocm.yml"})
    with github_api(TOKEN, workflows=workflows, allowed_inputs=allowed) as gh:
        if setup == "server-error":
            gh.force_status = 500
        _env(monkeypatch, gh.url, "wrong-" + TOKEN if setup == "bad-token" else TOKEN)
        code = clamp("verify", "--matrix", str(auto_matrix), "-o", str(out))
    assert code == 71
    doc = json.loads(out.read_text())
    assert doc["dispatch"]["status"] == "failed" and needle in doc["dispatch"]["error"]
    captured = capsys.readouterr()
    assert needle in captured.err
    assert TOKEN not in captured.out + captured.err + out.read_text()


def test_missing_token_skips_dispatch_unless_forced(auto_matrix: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_REPOSITORY", "rocm/clamp-ci")
    out = tmp_path / "prov.json"
    # A pull request's read-only job has no token: the findings show, the dispatch is skipped.
    assert clamp("verify", "--matrix", str(auto_matrix), "-o", str(out)) == 1
    dispatch = json.loads(out.read_text())["dispatch"]
    assert dispatch["status"] == "skipped" and "GITHUB_TOKEN" in dispatch["error"]
    # Asked for explicitly, a dispatch that cannot happen is an error.
    assert clamp("verify", "--matrix", str(auto_matrix), "--dispatch", "-o", str(out)) == 71
    assert json.loads(out.read_text())["dispatch"]["status"] == "failed"


def test_dispatch_flag_forces_update_under_warn(demo_world: DemoResult, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with github_api(TOKEN) as gh:
        _env(monkeypatch, gh.url)
        assert clamp("verify", "--matrix", str(demo_world.matrix), "--dispatch", "--version",
                     "5.7.1", "-o", str(tmp_path / "p.json")) == 1
    assert len(gh.requests) == 1
    assert gh.requests[0].body["inputs"]["entries"] == "5.7.1/ubuntu-22.04"


@pytest.mark.parametrize("workflow", ["../../../../evil", "a/b.yml", "update rocm.yml", ".yml"])
def test_a_workflow_that_is_not_a_file_name_is_bad_input(auto_matrix: Path, tmp_path: Path,
                                                         workflow: str) -> None:
    """The workflow is a URL path segment sent with the job's token: `../` would point the
    dispatch at another endpoint. The matrix refuses it before anything is sent."""
    path = tmp_path / "bad.yml"
    path.write_text(auto_matrix.read_text().replace("workflow: update-rocm.yml",
                                                    f"workflow: {json.dumps(workflow)}"))
    assert clamp("matrix", "validate", str(path)) == 64


def test_a_repository_that_is_not_owner_name_is_never_dispatched_to(
        auto_matrix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with github_api(TOKEN) as api:
        _env(monkeypatch, api.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", "../../x")
        out = tmp_path / "prov.json"
        assert clamp("verify", "--matrix", str(auto_matrix), "--dispatch", "-o", str(out)) == 71
        assert api.requests == []
    assert "owner/name" in json.loads(out.read_text())["dispatch"]["error"]
