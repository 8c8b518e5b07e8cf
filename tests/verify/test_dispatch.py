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
    # Unsigned, invalid and mis-signed pins dispatch the update AND fail the run (exit 3):
    # CI must not run them while the update is made.
    assert code == 3
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
    decisions = {r["entry"]: r["policyDecision"] for r in doc["records"]}
    assert decisions["5.7.1/ubuntu-22.04"] == "update"
    assert {decisions[e] for e in ("6.2.4/ubuntu-22.04", "6.1.2/ubuntu-22.04",
                                   "6.0.2/ubuntu-22.04")} == {"fail"}
    assert doc["exitCode"] == 3 and doc["status"] == "signature_failed"
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
        # 5.7.1 only drifted (its pin still verifies): the run would pass, but the dispatch
        # it asked for failed.
        code = clamp("verify", "--matrix", str(auto_matrix), "--version", "5.7.1", "-o",
                     str(out))
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
    drift_only = ("--version", "5.7.1")
    assert clamp("verify", "--matrix", str(auto_matrix), *drift_only, "-o", str(out)) == 0
    dispatch = json.loads(out.read_text())["dispatch"]
    assert dispatch["status"] == "skipped" and "GITHUB_TOKEN" in dispatch["error"]
    # Asked for explicitly, a dispatch that cannot happen is an error.
    assert clamp("verify", "--matrix", str(auto_matrix), *drift_only, "--dispatch", "-o",
                 str(out)) == 71
    assert json.loads(out.read_text())["dispatch"]["status"] == "failed"


def test_dispatch_flag_forces_update_under_warn(demo_world: DemoResult, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with github_api(TOKEN) as gh:
        _env(monkeypatch, gh.url)
        assert clamp("verify", "--matrix", str(demo_world.matrix), "--dispatch", "--version",
                     "5.7.1", "-o", str(tmp_path / "p.json")) == 0
    assert len(gh.requests) == 1
    assert gh.requests[0].body["inputs"]["entries"] == "5.7.1/ubuntu-22.04"
    record = json.loads((tmp_path / "p.json").read_text())["records"][0]
    assert record["policyDecision"] == "warn"  # --dispatch asks; it does not decide


@pytest.mark.parametrize(("version", "code"), [("6.2.4", 3), ("6.1.2", 3), ("6.0.2", 3),
                                               ("5.7.1", 8), ("6.4.4", 0)])
def test_dispatch_never_lowers_a_strict_failure(demo_world: DemoResult, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch, version: str,
                                                code: int) -> None:
    """Unsigned (6.2.4), invalid (6.1.2), mis-signed (6.0.2) and drifted (5.7.1) pins fail
    under strict with or without --dispatch; the clean 6.4.4 entries pass either way."""
    strict = demo_world.matrix.parent / f"strict-{tmp_path.name}.yml"
    strict.write_text(demo_world.matrix.read_text().replace("policy: warn", "policy: strict"))
    with github_api(TOKEN) as gh:
        _env(monkeypatch, gh.url)
        plain = clamp("verify", "--matrix", str(strict), "--version", version, "-o",
                      str(tmp_path / "a.json"))
        forced = clamp("verify", "--matrix", str(strict), "--version", version, "--dispatch",
                       "-o", str(tmp_path / "b.json"))
    assert plain == forced == code
    assert len(gh.requests) == (0 if code == 0 else 1)
    doc = json.loads((tmp_path / "b.json").read_text())
    assert {r["policyDecision"] for r in doc["records"]} == {"pass" if code == 0 else "fail"}


def test_auto_update_drift_with_a_verified_pin_dispatches_and_passes(
        auto_matrix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "prov.json"
    with github_api(TOKEN) as gh:
        _env(monkeypatch, gh.url)
        capsys.readouterr()
        code = clamp("verify", "--matrix", str(auto_matrix), "--version", "5.7.1", "-o",
                     str(out))
    assert code == 0
    assert gh.requests[0].body["inputs"]["entries"] == "5.7.1/ubuntu-22.04"
    doc = json.loads(out.read_text())
    assert doc["status"] == "warnings" and doc["exitCode"] == 0
    assert doc["records"][0]["policyDecision"] == "update"
    assert "passed with warnings" in capsys.readouterr().err


@pytest.mark.parametrize("version", ["6.2.4", "6.1.2", "6.0.2"])
def test_auto_update_signature_failure_dispatches_and_fails(
        auto_matrix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        version: str) -> None:
    """Unsigned, invalid, identity mismatch: each alone dispatches and exits 3."""
    out = tmp_path / "prov.json"
    with github_api(TOKEN) as gh:
        _env(monkeypatch, gh.url)
        code = clamp("verify", "--matrix", str(auto_matrix), "--version", version, "-o",
                     str(out))
    assert code == 3
    assert gh.requests[0].body["inputs"]["entries"] == f"{version}/ubuntu-22.04"
    assert json.loads(out.read_text())["records"][0]["policyDecision"] == "fail"


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
        assert clamp("verify", "--matrix", str(auto_matrix), "--version", "5.7.1", "--dispatch",
                     "-o", str(out)) == 71
        assert api.requests == []
    assert "owner/name" in json.loads(out.read_text())["dispatch"]["error"]


@pytest.mark.parametrize(("status", "redirect"), [(200, False), (201, False), (202, False),
                                                  (302, True), (307, True), (308, True)])
def test_answers_that_are_not_204_are_failed_dispatches_and_redirects_get_no_token(
        auto_matrix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], status: int, redirect: bool) -> None:
    """Red team 11: an answer that claims success oddly (200, 201 with nothing, 202) is not the
    dispatch GitHub documents (204), and a redirect (to another host here) is never followed, so
    the token goes to GITHUB_API_URL's host alone. Honest twin: the 204 tests above."""
    out = tmp_path / "prov.json"
    with github_api(TOKEN) as gh, github_api(TOKEN) as elsewhere:
        gh.force_status = status
        if redirect:
            gh.force_headers = {"Location": f"{elsewhere.url}/repos/rocm/clamp-ci/actions/"
                                "workflows/update-rocm.yml/dispatches"}
        _env(monkeypatch, gh.url)
        code = clamp("verify", "--matrix", str(auto_matrix), "--version", "5.7.1", "-o",
                     str(out))
    assert code == 71
    assert len(gh.requests) == 1 and elsewhere.requests == []
    doc = json.loads(out.read_text())
    assert doc["dispatch"]["status"] == "failed" and str(status) in doc["dispatch"]["error"]
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err + out.read_text()
