"""`clamp provenance check`: the workflows' proof that this run's evidence exists and fits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from clamp.demo.scenario import DemoResult
from tests.verify.conftest import build_demo


def clamp(*args: str) -> int:
    return invoke(app, list(args), prog_name="clamp")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return build_demo(tmp_path_factory.mktemp("check-demo"))


@pytest.fixture(scope="module")
def written(world: DemoResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prov") / "rocm_provenance.json"
    assert clamp("verify", "--matrix", str(world.matrix), "-o", str(out)) == 0
    return out


def check(capsys: pytest.CaptureFixture[str], path: Path, world: DemoResult,
          *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = clamp("provenance", "check", str(path), "--matrix", str(world.matrix), *extra)
    return code, capsys.readouterr().err


def test_the_runs_own_provenance_passes(world: DemoResult, written: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, err = check(capsys, written, world)
    assert code == 0, err
    assert "7 records (one per pinned entry), 1 unpinned skipped, status warnings" in err


def _variant(tmp_path: Path, written: Path, change: object) -> Path:
    doc = json.loads(written.read_text())
    change(doc)  # type: ignore[operator]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(("change", "needle"), [
    (lambda d: d["records"].pop(), "entries without a record"),
    (lambda d: d["records"].append(d["records"][0]), "records repeated"),
    (lambda d: d["matrix"].update(sha256="0" * 64), "other matrix bytes"),
    (lambda d: d.update(skipped=[]), "skipped lists"),
    (lambda d: d.update(status="fine"), "not a valid provenance document: status"),
    (lambda d: d.pop("records"), "not a valid provenance document: records"),
    (lambda d: d["records"].append({**d["records"][0], "entry": "9.9.9/nowhere"}),
     "not selected"),
])
def test_provenance_that_is_not_this_runs_is_refused(
        tmp_path: Path, world: DemoResult, written: Path, capsys: pytest.CaptureFixture[str],
        change: object, needle: str) -> None:
    code, err = check(capsys, _variant(tmp_path, written, change), world)
    assert code == 64
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("content", [None, b"", b"{", b"[]", b"\xff\xfe"])
def test_missing_or_unreadable_files_are_refused(tmp_path: Path, world: DemoResult,
                                                 capsys: pytest.CaptureFixture[str],
                                                 content: bytes | None) -> None:
    path = tmp_path / "p.json"
    if content is not None:
        path.write_bytes(content)
    code, err = check(capsys, path, world)
    assert code == 64 and str(path) in err and "Traceback" not in err


def test_selection_must_match_the_runs(world: DemoResult, written: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, err = check(capsys, written, world, "--version", "6.3.4")
    assert code == 64 and "not selected" in err
    one = tmp_path / "one.json"
    assert clamp("verify", "--matrix", str(world.matrix), "--version", "6.3.4", "-o",
                 str(one)) == 0
    assert check(capsys, one, world, "--version", "6.3.4")[0] == 0
