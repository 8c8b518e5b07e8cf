"""`clamp update`'s matrix and its review evidence are one unit: a bad output path is refused
before anything is written, the evidence is on disk before the matrix changes, and a refused
matrix write takes the evidence back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from clamp.errors import ConflictError
from clamp.exitcodes import ExitCode
from clamp.update.commit import write_together

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture()
def matrix(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES / "keys", tmp_path / "keys")
    path = tmp_path / "m.yml"
    path.write_text((EXAMPLES / "rocm_matrix.yml").read_text())
    return path


@pytest.mark.parametrize("where", ["dir", "matrix", "long", "same"])
def test_bad_outputs_are_refused_before_anything_is_written(
        matrix: Path, tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = matrix.read_bytes()
    (tmp_path / "out").mkdir()
    pr_body = {"dir": tmp_path / "out", "matrix": matrix, "long": tmp_path / ("x" * 300),
               "same": tmp_path / "body.md"}[where]
    args = ["update", "-m", str(matrix), "--pr-body", str(pr_body)]
    if where == "same":
        args += ["--provenance-output", str(pr_body)]
    # The registry named does not exist: refusing first means it is never asked.
    assert invoke(app, args, prog_name="clamp") == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "internal error" not in err and err.count("error:") == 1
    assert matrix.read_bytes() == before and not (tmp_path / "body.md").exists()


def test_evidence_is_written_before_the_matrix(tmp_path: Path) -> None:
    body, seen = tmp_path / "pr-body.md", []

    def commit() -> None:
        seen.append(body.read_text())

    write_together([(body, "new body")], commit)
    assert seen == ["new body"]


def test_a_refused_matrix_write_takes_the_evidence_back(tmp_path: Path) -> None:
    kept, fresh = tmp_path / "pr-body.md", tmp_path / "prov.json"
    kept.write_text("last run's body")

    def commit() -> None:
        raise ConflictError("changed")

    with pytest.raises(ConflictError):
        write_together([(kept, "new body"), (fresh, "{}")], commit)
    assert kept.read_text() == "last run's body" and not fresh.exists()


def test_dispatch_reasons_that_are_not_utf8_reach_the_pr_body(
        matrix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import os

    (tmp_path / "layout").mkdir()
    matrix.write_text(matrix.read_text().replace("registry: ghcr.io",
                                                 f"registry: oci:{tmp_path / 'layout'}"))
    monkeypatch.setitem(os.environb, b"CLAMP_UPDATE_REASONS", b"drift on \xff\xfe 6.4.4")
    body = tmp_path / "pr-body.md"
    code = invoke(app, ["update", "-m", str(matrix), "--pr-body", str(body)], prog_name="clamp")
    assert code != ExitCode.INTERNAL_ERROR and "internal error" not in capsys.readouterr().err
    assert "drift on \ufffd\ufffd 6.4.4" in body.read_text(encoding="utf-8")
