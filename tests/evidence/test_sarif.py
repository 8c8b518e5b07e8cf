"""`clamp verify --matrix --sarif`: SARIF 2.1.0, one result per failed or warned entry."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from clamp.cli.main import app, invoke
from clamp.demo.scenario import STORIES, DemoResult

SUBSET = json.loads((Path(__file__).parent / "sarif_subset.schema.json").read_text())


def clamp(*args: str) -> int:
    return invoke(app, list(args), prog_name="clamp")


def validate(doc: object) -> None:
    jsonschema.Draft202012Validator(
        SUBSET, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(doc)


def strict_matrix(world: DemoResult, tmp_path: Path) -> Path:
    path = world.matrix.parent / f"strict-{tmp_path.name}.yml"
    path.write_text(world.matrix.read_text().replace("policy: warn", "policy: strict"))
    return path


def test_one_result_per_entry_that_did_not_pass(demo_world: DemoResult, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(demo_world.out)
    matrix = strict_matrix(demo_world, tmp_path)
    sarif, out = tmp_path / "clamp.sarif", tmp_path / "prov.json"
    assert clamp("verify", "--matrix", str(matrix), "-o", str(out), "--sarif", str(sarif)) == 3
    doc = json.loads(sarif.read_text())
    validate(doc)
    (run,) = doc["runs"]
    records = json.loads(out.read_text())["records"]
    failing = {r["entry"] for r in records if r["policyDecision"] != "pass"}
    results = {r["properties"]["entry"]: r for r in run["results"]}
    assert set(results) == failing and len(run["results"]) == len(failing)
    assert failing == {s.entry for s in STORIES if s.status != "valid" or s.tag_state != "current"}
    lines = matrix.read_text().splitlines()
    tampered = results["6.1.2/ubuntu-22.04"]
    assert tampered["ruleId"] == "signature" and tampered["level"] == "error"
    assert "does not verify" in tampered["message"]["text"]
    location = tampered["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == matrix.relative_to(demo_world.out).as_posix()
    assert lines[location["region"]["startLine"] - 1] == '  - version: "6.1.2"'
    drift = results["5.7.1/ubuntu-22.04"]
    assert drift["ruleId"] == "drift" and set(drift["properties"]["checks"]) == {"drift", "stale"}
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_warned_entries_are_warnings(demo_world: DemoResult, tmp_path: Path) -> None:
    sarif = tmp_path / "clamp.sarif"
    clamp("verify", "--matrix", str(demo_world.matrix), "-o", str(tmp_path / "p.json"),
          "--sarif", str(sarif))
    doc = json.loads(sarif.read_text())
    validate(doc)
    assert {r["level"] for r in doc["runs"][0]["results"]} == {"warning"}


def test_all_passing_is_an_empty_result_list(demo_world: DemoResult, tmp_path: Path) -> None:
    sarif = tmp_path / "clamp.sarif"
    assert clamp("verify", "--matrix", str(demo_world.matrix), "--version", "6.3.4", "-o",
                 str(tmp_path / "p.json"), "--sarif", str(sarif)) == 0
    doc = json.loads(sarif.read_text())
    validate(doc)
    assert doc["runs"][0]["results"] == [] and doc["runs"][0]["tool"]["driver"]["rules"] == []


def test_subset_schema_rejects_what_code_scanning_would(demo_world: DemoResult,
                                                        tmp_path: Path) -> None:
    """The schema in the test can fail: a line 0, an unknown level, a missing message."""
    sarif = tmp_path / "clamp.sarif"
    clamp("verify", "--matrix", str(demo_world.matrix), "-o", str(tmp_path / "p.json"),
          "--sarif", str(sarif))
    good = json.loads(sarif.read_text())
    for edit in (lambda r: r["locations"][0]["physicalLocation"]["region"].update(startLine=0),
                 lambda r: r.update(level="fatal"), lambda r: r.pop("message")):
        bad = json.loads(json.dumps(good))
        edit(bad["runs"][0]["results"][0])
        with pytest.raises(jsonschema.ValidationError):
            validate(bad)


def test_outputs_are_one_unit(demo_world: DemoResult, tmp_path: Path) -> None:
    """An unwritable SARIF path leaves the previous provenance untouched (nothing half-done)."""
    out = tmp_path / "prov.json"
    out.write_text("previous\n")
    (tmp_path / "dir.sarif").mkdir()
    assert clamp("verify", "--matrix", str(demo_world.matrix), "-o", str(out), "--sarif",
                 str(tmp_path / "dir.sarif")) == 64
    assert out.read_text() == "previous\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_sarif_is_for_matrix_runs_only(tmp_path: Path) -> None:
    assert clamp("verify", "--image", "oci:/nonexistent", "--sarif", str(tmp_path / "x")) == 64
