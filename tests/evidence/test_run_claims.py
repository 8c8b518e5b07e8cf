"""The decision layer red-teamed (session 13): what a provenance file says about the whole run,
how it is read, and pins dated in the future.

Real parts: the demo world (tests/verify/conftest.py: real keyless Fulcio+Rekor, key and bundle
signatures, unsigned, tampered and wrong-identity images in an OCI layout), verified by
`clamp verify --matrix`, its file edited the way a forger would and re-verified offline.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from clamp.cli.main import app, invoke
from clamp.demo.scenario import DemoResult

KEYED, DRIFTED = "6.4.4/ubuntu-24.04", "5.7.1/ubuntu-22.04"


def clamp(*args: str) -> int:
    return invoke(app, list(args), prog_name="clamp")


def record(doc: dict[str, Any], entry: str) -> dict[str, Any]:
    return next(r for r in doc["records"] if r["entry"] == entry)


@pytest.fixture(scope="module")
def strict_doc(demo_world: DemoResult, tmp_path_factory: pytest.TempPathFactory
               ) -> dict[str, Any]:
    """The demo under `policy: strict`: four entries fail (unsigned, invalid, wrong identity,
    drift), exit 3, status `signature_failed`."""
    matrix = demo_world.matrix.parent / "strict-claims.yml"
    matrix.write_text(demo_world.matrix.read_text().replace("policy: warn", "policy: strict"))
    out = tmp_path_factory.mktemp("strict") / "strict.json"
    assert clamp("verify", "--matrix", str(matrix), "-o", str(out)) == 3
    doc: dict[str, Any] = json.loads(out.read_text())
    assert (doc["status"], doc["exitCode"], doc["summary"]["failed"]) == ("signature_failed",
                                                                          3, 4)
    return doc


def _reverify(doc: dict[str, Any] | str, path: Path) -> int:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return clamp("provenance", "verify", str(path))


# ---- the run's verdict: status and exitCode are derived from the records ----------------------

@pytest.mark.parametrize(("status", "code", "check"), [
    ("warnings", 0, "status: status: recorded 'warnings', the records give 'signature_failed'"),
    ("verified", 0, "status: status: recorded 'verified'"),
    ("signature_failed", 0, "exitCode: exitCode: recorded 0 with status 'signature_failed'"),
])
def test_a_failed_run_cannot_be_edited_into_a_passing_one(
        strict_doc: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        status: str, code: int, check: str) -> None:
    """Every record true, the run's verdict forged: `provenance verify` said "all 7 records
    reproduced" (exit 0) for a strict run with four failures recorded as `warnings`, exit 0."""
    doc = copy.deepcopy(strict_doc)
    doc["status"], doc["exitCode"] = status, code
    assert _reverify(doc, tmp_path / "forged.json") == 11
    assert check in capsys.readouterr().err


def test_the_failed_runs_honest_file_is_reproduced(strict_doc: dict[str, Any],
                                                   tmp_path: Path) -> None:
    assert _reverify(strict_doc, tmp_path / "honest.json") == 0


# ---- read as written: one key once, every value in the schema's type --------------------------

def test_a_key_given_twice_is_refused(strict_doc: dict[str, Any], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`"trustStatus": "valid"` before the true `"invalid"`: Python and jq keep the last (so the
    record reproduced), a first-wins reader shows the image valid."""
    text = json.dumps(strict_doc, indent=1)
    bad = record(strict_doc, "6.1.2/ubuntu-22.04")
    assert bad["trustStatus"] == "invalid"
    at = text.index('"trustStatus": "invalid"')
    forged = text[:at] + '"trustStatus": "valid",\n' + text[at:]
    assert _reverify(forged, tmp_path / "twice.json") == 64
    err = capsys.readouterr().err
    assert "duplicate key 'trustStatus'" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("field", "value"), [("digestVerified", "true"), ("stale", 0),
                                              ("logIndex", "float"), ("exitCode", "3")])
def test_a_value_of_another_json_type_is_refused(strict_doc: dict[str, Any], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 field: str, value: Any) -> None:
    """pydantic's lax mode read `"digestVerified": "true"` (and `"no"`, `"off"`) as a bool, `0`
    as false, `7.0` and `"3"` as integers: the file reproduced, while the schema it claims
    refuses it and a script reading the string takes `"no"` for true."""
    doc = copy.deepcopy(strict_doc)
    target = doc if field == "exitCode" else next(r for r in doc["records"]
                                                  if r[field] is not None)
    target[field] = float(target[field]) if value == "float" else value
    assert _reverify(doc, tmp_path / "typed.json") == 64
    assert f"{field}: Input should be a valid" in capsys.readouterr().err


# ---- stale follows from the record's own age and TTL -----------------------------------------

def test_a_stale_pin_cannot_be_recorded_fresh(demo_world: DemoResult, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The drifted entry is also 45 days old (TTL 30). `stale: false` with the stale finding
    cut from `findings` and `policyPath` was consistent (its decision stays `warn` for the
    drift); its own `ageDays` and `ttlDays` say otherwise."""
    doc = json.loads(demo_world.provenance.read_text())
    r = record(doc, DRIFTED)
    assert r["stale"] and r["ageDays"] > r["ttlDays"]
    stale = next(f for f in r["findings"] if f.startswith("stale: "))
    r["stale"] = False
    r["findings"].remove(stale)
    r["policyPath"] = r["policyPath"].replace(f"; {stale}", "")
    assert _reverify(doc, tmp_path / "fresh.json") == 11
    assert f"({DRIFTED}): stale: recorded False, age " in capsys.readouterr().err


# ---- a pin dated in the future --------------------------------------------------------------

def _dated(demo_world: DemoResult, tmp_path: Path, added: date, ttl: str = "30") -> Path:
    """The demo matrix, strict, with the key-signed entry's pin dated `added`."""
    text = demo_world.matrix.read_text().replace("policy: warn", "policy: strict")
    text = text.replace("digest_ttl_days: 30", f"digest_ttl_days: {ttl}")
    text = re.sub(r"added: \S+", f"added: {added.isoformat()}", text, count=1)
    matrix = demo_world.matrix.parent / f"dated-{tmp_path.name}.yml"
    matrix.write_text(text)
    return matrix


def _verify_keyed(matrix: Path, out: Path) -> int:
    return clamp("verify", "--matrix", str(matrix), "--version", "6.4.4", "--os",
                 "ubuntu-24.04", "-o", str(out))


def test_a_pin_dated_in_the_future_is_stale(demo_world: DemoResult, tmp_path: Path) -> None:
    """`added: 2099-…` kept a pin fresh for good (its age negative, never past the TTL): the
    origin read it so, and so did clamp (exit 0 under strict). Now it is a `stale` finding."""
    out = tmp_path / "future.json"
    assert _verify_keyed(_dated(demo_world, tmp_path, date.today() + timedelta(days=400)),
                         out) == 8
    (r,) = json.loads(out.read_text())["records"]
    assert r["stale"] and r["ageDays"] == -400 and r["policyDecision"] == "fail"
    assert r["findings"] == ["stale: pin is dated 400 days in the future (TTL 30 cannot count "
                             "from it)"]
    assert clamp("provenance", "verify", str(out)) == 0  # reproduced as recorded


@pytest.mark.parametrize(("days", "ttl"), [(0, "30"), (1, "30"), (400, "null")])
def test_a_pin_dated_today_tomorrow_or_without_a_ttl_passes(demo_world: DemoResult,
                                                            tmp_path: Path, days: int,
                                                            ttl: str) -> None:
    """Tomorrow is still today in a time zone ahead of the verifier's; with no TTL the date
    decides nothing."""
    out = tmp_path / "dated.json"
    assert _verify_keyed(_dated(demo_world, tmp_path, date.today() + timedelta(days=days), ttl),
                         out) == 0
    (r,) = json.loads(out.read_text())["records"]
    assert not r["stale"] and r["findings"] == []
    assert clamp("provenance", "verify", str(out)) == 0


# ---- `--dispatch`: recorded in the path, reproduced -----------------------------------------

def test_a_forced_dispatch_run_is_reproduced(demo_world: DemoResult, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`verify --dispatch` adds `+ dispatch (--dispatch)` to each updatable record's path; the
    flag is not in the file, and `provenance verify` refused the honest file (exit 11, four
    records "not reproduced"). Now the path is accepted with or without it where `--dispatch`
    could have added it, and nowhere else."""
    for name in ("GITHUB_TOKEN", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "forced.json"
    assert clamp("verify", "--matrix", str(demo_world.matrix), "--dispatch", "-o",
                 str(out)) == 71  # the dispatch fails: no repository to send it to
    doc = json.loads(out.read_text())
    assert doc["dispatch"]["status"] == "failed"
    assert record(doc, DRIFTED)["policyPath"].endswith(" + dispatch (--dispatch)")
    assert _reverify(doc, tmp_path / "honest.json") == 0
    passed = record(doc, KEYED)
    passed["policyPath"] += " + dispatch (--dispatch)"  # nothing an update could fix
    capsys.readouterr()
    assert _reverify(doc, tmp_path / "edited.json") == 11
    assert f"({KEYED}): policyPath: " in capsys.readouterr().err


# ---- --matrix: one record per pinned entry selected -----------------------------------------

def _only_passing(doc: dict[str, Any]) -> dict[str, Any]:
    """The strict run's failed records dropped, summary and status rewritten to match."""
    d = copy.deepcopy(doc)
    d["records"] = [r for r in d["records"] if r["policyDecision"] == "pass"]
    n = len(d["records"])
    d["summary"].update(total=n, valid=n, unsigned=0, invalid=0, identity_mismatch=0, error=0,
                        passed=n, warned=0, failed=0, updates=0)
    d["status"], d["exitCode"] = "warnings", 0  # the unpinned entry is still skipped
    return d


def test_records_dropped_from_a_failed_run_are_missed_with_the_matrix(
        strict_doc: dict[str, Any], demo_world: DemoResult, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Every record left is true and the verdict follows from them: only the matrix knows the
    four failed entries were pinned. `provenance verify --matrix` said exit 0."""
    matrix = demo_world.matrix.parent / "strict-claims.yml"  # the strict_doc fixture's matrix
    path = tmp_path / "dropped.json"
    path.write_text(json.dumps(_only_passing(strict_doc)))
    assert clamp("provenance", "verify", str(path), "--matrix", str(matrix)) == 11
    err = capsys.readouterr().err
    assert "records: records-missing: 6.2.4/ubuntu-22.04, 6.1.2/ubuntu-22.04" in err
    doubled = copy.deepcopy(strict_doc)
    doubled["records"].append(copy.deepcopy(doubled["records"][0]))
    path.write_text(json.dumps(doubled))
    assert clamp("provenance", "verify", str(path), "--matrix", str(matrix)) == 11
    assert f"records: records-repeated: {KEYED}" in capsys.readouterr().err


def test_a_filtered_run_is_anchored_with_its_filter(demo_world: DemoResult, tmp_path: Path,
                                                    strict_doc: dict[str, Any]) -> None:
    matrix = demo_world.matrix.parent / "strict-claims.yml"
    honest = tmp_path / "honest.json"
    honest.write_text(json.dumps(strict_doc))
    assert clamp("provenance", "verify", str(honest), "--matrix", str(matrix)) == 0
    out = tmp_path / "filtered.json"
    assert clamp("verify", "--matrix", str(matrix), "--version", "6.4.4", "-o", str(out)) == 0
    assert clamp("provenance", "verify", str(out), "--matrix", str(matrix), "--version",
                 "6.4.4") == 0
    assert clamp("provenance", "verify", str(out), "--matrix", str(matrix)) == 11


# ---- VSAs matched to their record, not to their digest --------------------------------------

def test_vsas_of_two_entries_pinning_one_digest_match_their_own_records(
        demo_world: DemoResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """One digest pinned by two entries, one trusting the key that signed it (passes), one only
    the keyless release identity (fails): `verify-vsa --provenance` looked records up by digest,
    so one honest VSA was compared with the other entry's record (exit 11). Now the VSA's
    policy URI (`<matrix>#<entry>`) names its record; an edited record still disagrees."""
    text = demo_world.matrix.read_text().replace("policy: warn", "policy: strict")
    pinned = re.search(r'  - version: "6.4.4"\n    os: ubuntu-24.04\n    digest: (\S+)\n', text)
    assert pinned is not None
    twin = (f'  - version: "9.9.9"\n    os: ubuntu-24.04\n    digest: {pinned.group(1)}\n'
            "    tag: 6.4.4-ubuntu-24.04\n    trust: [rocm-release]\n")
    matrix = demo_world.matrix.parent / f"twins-{tmp_path.name}.yml"
    matrix.write_text(text.replace("images:\n", "images:\n" + twin, 1))
    monkeypatch.setenv("CLAMP_PASSWORD", "clamp-demo")
    out, vsa = tmp_path / "twins.json", tmp_path / "twins.vsa"
    keys = demo_world.matrix.parent.parent / "keys"
    assert clamp("verify", "--matrix", str(matrix), "--os", "ubuntu-24.04", "-o", str(out),
                 "--vsa", str(vsa), "--vsa-key", str(keys / "mirror.key")) == 3
    doc = json.loads(out.read_text())
    assert {r["entry"]: r["policyDecision"] for r in doc["records"]} == {
        "9.9.9/ubuntu-24.04": "fail", KEYED: "pass"}
    check = ("provenance", "verify-vsa", str(vsa), "--key", str(keys / "mirror.pub"),
             "--provenance", str(out))
    assert clamp(*check) == 0
    record(doc, "9.9.9/ubuntu-24.04")["policyDecision"] = "pass"
    out.write_text(json.dumps(doc))
    capsys.readouterr()
    assert clamp(*check) == 11
    assert "the VSA says FAILED" in capsys.readouterr().err
