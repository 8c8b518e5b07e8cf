"""The GitHub job summary: rounded numbers, one row per image change with its verdict, and
nothing from the data able to break the table or render as Markdown/HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from clamp.telemetry.job_summary import markdown, md
from clamp.telemetry.samples import write_sample_sessions
from clamp.telemetry.summary_io import load_summary

from .conftest import DIGESTS, provenance_doc


def _root(tmp_path: Path, image: str | None = None, identity: str | None = None) -> Path:
    write_sample_sessions(tmp_path, DIGESTS)
    doc = provenance_doc({DIGESTS[0]: "valid", DIGESTS[1]: "unsigned", DIGESTS[2]: "valid"})
    for rec in doc["records"]:
        if image is not None:
            rec["image"] = f"{image}@{rec['digest']}"
        rec["identity"] = identity
    (tmp_path / "build" / "rocm_provenance.json").write_text(json.dumps(doc))
    return tmp_path


def test_step_summary_in_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    root = _root(tmp_path / "r", identity="https://github.com/o/r/.github/workflows/b.yml@main")
    step = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out.txt"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    assert invoke(app, ["telemetry", "accumulate", str(root)], prog_name="clamp") == 0
    text = step.read_text()
    assert "| 9 | 897 | 0.869 | 76.0 ms |" in text
    rows = [line for line in text.splitlines() if line.startswith("| 2025")]
    assert len(rows) == 2 and all("🔴 **regressed**" in r for r in rows)
    assert "dev:6.4.4\\-ubuntu\\-22.04" not in text and "dev:6.4.4-ubuntu-22.04" in text
    assert "−0.059 [−0.065, −0.054]" in rows[0] and "+7 [−3, +22] ms" in rows[0]
    assert "unsigned" in rows[0] and "valid · https://github.com/o/r/" in rows[1]
    # No long float anywhere: every number is rounded for reading.
    assert not re.search(r"\d\.\d{5,}", text)
    assert all(row.count("|") == 7 for row in rows)


def test_hostile_names_cannot_break_the_table(tmp_path: Path) -> None:
    root = _root(tmp_path, image="ghcr.io/x/dev:a|b<img src=x>*y*",
                 identity="evil | <script>alert(1)</script> [link](http://127.0.0.1/)")
    assert invoke(app, ["telemetry", "accumulate", str(root)], prog_name="clamp") == 0
    text = markdown(load_summary(root))
    rows = [line for line in text.splitlines() if line.startswith("| 2025")]
    assert len(rows) == 2
    for row in rows:
        # Only the 7 table pipes are unescaped.
        assert len(re.findall(r"(?<!\\)\|", row)) == 7
    assert "<img" not in text and "<script" not in text and "[link](" not in text
    assert "\\[link\\](http" in text
    assert "a\\|b&lt;img src=x&gt;\\*y\\*" in text


def test_md_escaping_honest_text_reads_the_same() -> None:
    assert md("dev:6.4.4-ubuntu-22.04") == "dev:6.4.4-ubuntu-22.04"
    assert md("a\nb") == "a b" and md("x|y") == "x\\|y"


def test_no_changes(tmp_path: Path) -> None:
    write_sample_sessions(tmp_path, DIGESTS[:1])
    assert invoke(app, ["telemetry", "accumulate", str(tmp_path)], prog_name="clamp") == 0
    assert "No image change between windows." in markdown(load_summary(tmp_path))
