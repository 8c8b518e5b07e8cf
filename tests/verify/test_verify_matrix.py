"""`clamp verify --matrix`: policy modes, provenance records, CI output, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from clamp.demo.scenario import STORIES, DemoResult
from clamp.verify.provenance import ProvenanceDocument, schema_text

ROOT = Path(__file__).resolve().parents[2]
RECORD_KEYS = {"image", "digest", "trustStatus", "issuer", "identity", "timestamp", "logIndex",
               "digestAlgorithm", "policyDecision", "policyPath", "policyMode", "verification"}


def clamp(*args: str) -> int:
    return invoke(app, list(args), prog_name="clamp")


def with_policy(world: DemoResult, policy: str, tmp_path: Path) -> Path:
    """A copy of the demo matrix next to the original (relative paths keep working)."""
    text = world.matrix.read_text().replace("policy: warn", f"policy: {policy}")
    path = world.matrix.parent / f"matrix-{policy}-{tmp_path.name}.yml"
    path.write_text(text)
    return path


def test_schema_file_is_current() -> None:
    assert (ROOT / "schemas/provenance.schema.json").read_text() == schema_text()


def test_warn_mode_reports_every_verdict(demo_world: DemoResult, tmp_path: Path) -> None:
    out = tmp_path / "prov.json"
    # Warnings exit 0 (never 1, Python's crash code): they show in `status` and the records.
    assert clamp("verify", "--matrix", str(demo_world.matrix), "-o", str(out)) == 0
    doc = json.loads(out.read_text())
    assert doc["status"] == "warnings" and doc["exitCode"] == 0
    ProvenanceDocument.model_validate(doc)
    records = {r["entry"]: r for r in doc["records"]}
    assert set(records) == {s.entry for s in STORIES}
    for story in STORIES:
        record = records[story.entry]
        assert set(record) >= RECORD_KEYS
        assert record["trustStatus"] == story.status, story.entry
        assert record["tagState"] == story.tag_state
        assert record["policyMode"] == "warn"
        expected = "pass" if story.status == "valid" and story.tag_state == "current" else "warn"
        assert record["policyDecision"] == expected
        assert record["digestAlgorithm"] == "sha256"
    keyless = records["6.4.4/ubuntu-22.04/linux/amd64"]
    assert keyless["identity"].startswith("https://github.com/ROCm/rocm-images/")
    assert keyless["issuer"] == "https://token.actions.githubusercontent.com"
    assert keyless["timestamp"]["source"] == "SET" and keyless["timestamp"]["time"]
    assert keyless["logIndex"] is not None
    assert keyless["platformDigest"].startswith("sha256:")
    keyed = records["6.4.4/ubuntu-24.04"]
    assert keyed["identity"] is None and keyed["issuer"] is None and keyed["keyFingerprint"]
    assert keyed["timestamp"] == {"time": None, "source": None}
    # The mirror key's policy applied and found the altered payload's signature bad: that is the
    # reason given, not the keyless policy's "not a certificate" mismatch.
    tampered = records["6.1.2/ubuntu-22.04"]["verification"]
    assert tampered["check"] == "signature" and "does not verify" in tampered["reason"]
    unsigned = records["6.2.4/ubuntu-22.04"]
    assert unsigned["verification"]["verdict"] == "unsigned"
    assert "no signature found" in unsigned["policyPath"]
    assert doc["summary"]["total"] == len(STORIES)
    assert doc["resolved"]["entry"] == "6.4.4/ubuntu-24.04"
    assert doc["matrix"]["sha256"] and doc["tool"]["name"] == "clamp"


def test_strict_mode_fails_on_signatures(demo_world: DemoResult, tmp_path: Path) -> None:
    matrix = with_policy(demo_world, "strict", tmp_path)
    out = tmp_path / "prov.json"
    assert clamp("verify", "--matrix", str(matrix), "-o", str(out)) == 3
    records = {r["entry"]: r for r in json.loads(out.read_text())["records"]}
    assert records["6.1.2/ubuntu-22.04"]["policyDecision"] == "fail"
    assert records["6.4.4/ubuntu-24.04"]["policyDecision"] == "pass"


def test_strict_without_signature_problems_fails_on_drift(demo_world: DemoResult,
                                                          tmp_path: Path) -> None:
    matrix = with_policy(demo_world, "strict", tmp_path)
    out = tmp_path / "prov.json"
    assert clamp("verify", "--matrix", str(matrix), "--version", "5.7.1", "-o", str(out)) == 8
    (record,) = json.loads(out.read_text())["records"]
    assert record["trustStatus"] == "valid" and record["policyDecision"] == "fail"
    assert "drift" in record["policyPath"] and "stale" in record["policyPath"]


def test_only_verified_entries_pass(demo_world: DemoResult, tmp_path: Path) -> None:
    out = tmp_path / "prov.json"
    assert clamp("verify", "--matrix", str(demo_world.matrix), "--version", "6.3.4", "-o",
                 str(out)) == 0
    (record,) = json.loads(out.read_text())["records"]
    assert record["verification"]["signature_kind"] == "bundle-dsse"


def test_github_actions_output(demo_world: DemoResult, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    matrix = with_policy(demo_world, "strict", tmp_path)
    out = tmp_path / "prov.json"
    assert clamp("verify", "--matrix", str(matrix), "-o", str(out)) == 3
    stderr = capsys.readouterr().err  # annotations go to stderr: stdout is for --json
    lines = matrix.read_text().splitlines()
    tampered_line = lines.index('  - version: "6.1.2"') + 1
    assert f"::error file={matrix},line={tampered_line},title=clamp verify%3A invalid::" in stderr
    table = summary.read_text()
    assert "| 6.1.2/ubuntu-22.04 |" in table and "**fail**" in table
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert values["status"] == "signature_failed"
    assert "6.1.2/ubuntu-22.04" in values["failed"].split(",")
    assert values["provenance"] == str(out)


def test_json_output_is_the_document(demo_world: DemoResult, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "prov.json"
    clamp("verify", "--matrix", str(demo_world.matrix), "-o", str(out), "--json")
    printed = json.loads(capsys.readouterr().out)
    assert printed["records"] == json.loads(out.read_text())["records"]


def test_json_under_github_actions_keeps_stdout_json(demo_world: DemoResult, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "outputs"))
    out = tmp_path / "prov.json"
    assert clamp("verify", "--matrix", str(demo_world.matrix), "-o", str(out), "--json") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["status"] == "warnings"  # the whole of stdout is JSON
    assert "::warning " in captured.err and "::" not in captured.out
    assert "passed with warnings" in captured.err


def test_bad_inputs(tmp_path: Path, demo_world: DemoResult,
                    capsys: pytest.CaptureFixture[str]) -> None:
    assert clamp("verify", "--matrix", str(tmp_path / "nope.yml")) == 64
    assert clamp("verify", "--matrix", str(demo_world.matrix), "--version", "9.9") == 64
    broken = demo_world.matrix.parent / f"broken-{tmp_path.name}.yml"
    broken.write_text(demo_world.matrix.read_text().replace("policy: warn", "policy: lenient"))
    out = tmp_path / "prov.json"
    assert clamp("verify", "--matrix", str(broken), "-o", str(out)) == 64
    assert not out.exists()
    err = capsys.readouterr().err
    assert "lenient" in err and "Traceback" not in err


def test_image_only_flags_are_refused_with_matrix(demo_world: DemoResult,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert clamp("verify", "--matrix", str(demo_world.matrix), "--key",
                 str(demo_world.public_key)) == 64
    assert "--key" in capsys.readouterr().err
