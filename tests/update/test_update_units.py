"""Discovery rules, the PR body's handling of untrusted text, and bad input (no registry)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.update.discover import newer_tags, tag_pattern, version_key
from clamp.update.prbody import render, text_cell
from clamp.update.report import Counts, EntryReport, UpdateReport
from tests.update.helpers import clamp, native_matrix, new_signer

versions = st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=4)


def test_versions_compare_numerically() -> None:
    assert version_key("6.4.10") > version_key("6.4.9")  # type: ignore[operator]
    assert version_key("6.4") == version_key("6.4.0")
    assert version_key("7.0.0-rc1") is None and version_key("latest") is None


@given(versions, versions)
def test_version_order_is_numeric_order(a: list[int], b: list[int]) -> None:
    def trimmed(parts: list[int]) -> list[int]:
        while len(parts) > 1 and parts[-1] == 0:
            parts = parts[:-1]
        return parts

    key_a = version_key(".".join(map(str, a)))
    key_b = version_key(".".join(map(str, b)))
    assert (key_a < key_b) == (trimmed(a) < trimmed(b))  # type: ignore[operator]


def test_only_tags_that_fit_the_template_are_candidates() -> None:
    tags = ["6.4.10-ubuntu-22.04", "6.4.9-ubuntu-22.04", "6.4.4-ubuntu-22.04",
            "6.4.11-rc1-ubuntu-22.04", "6.4.12-ubuntu-24.04", "latest", "6.5-ubuntu-22.04",
            "6.5.0-ubuntu-22.04", "x6.6-ubuntu-22.04", "6.4.4-ubuntu-22.04.sig"]
    found = newer_tags(tags, "{version}-{os}", "ubuntu-22.04", (6, 4, 4))
    assert [(n.version, n.tag) for n in found] == [
        ("6.5", "6.5-ubuntu-22.04"), ("6.4.10", "6.4.10-ubuntu-22.04"),
        ("6.4.9", "6.4.9-ubuntu-22.04")]
    assert tag_pattern("rocm{version}", "ubuntu-22.04") is not None
    assert tag_pattern("{os}-stable", "ubuntu-22.04") is None  # nothing to discover


def _report(reason: str) -> UpdateReport:
    item = EntryReport(entry="6.4.4/ubuntu-22.04", kind="pinned", source=None,
                       tag="reg/rocm/dev:6.4.4-ubuntu-22.04", outcome="rejected",
                       old_digest="sha256:" + "a" * 64, new_digest="sha256:" + "b" * 64,
                       old_platform_digest=None, new_platform_digest=None, drift=True,
                       renewed=False, check="signature", reason=reason, signing=None,
                       verification=None, attestation=None)
    return UpdateReport(tool_version="0.1.0", generated_at=datetime(2025, 10, 12, tzinfo=UTC),
                        matrix="ci/rocm_matrix.yml", layout="native", sha256_before="0",
                        sha256_after="0", discover=False, dry_run=False, requested_entries=None,
                        requested_reasons="drift\n## injected", changed=False, written=False,
                        status="nothing_updated", exit_code=6,
                        counts=Counts(updated=0, added=0, rejected=1, errors=0, current=0,
                                      missing=0), entries=[item])


def test_pr_body_keeps_untrusted_text_in_its_cell() -> None:
    body = render(_report("bad | row\n| injected | <script> `code` " + "x" * 500))
    rows = [line for line in body.splitlines() if "`signature`" in line]
    assert len(rows) == 1 and rows[0].count(" | ") == 4  # five cells, no breakout
    assert "<script>" not in body and "\n## injected" not in body
    assert body == render(_report("bad | row\n| injected | <script> `code` " + "x" * 500))
    assert len(text_cell("y" * 1000)) == 300


def _matrix(tmp_path: Path) -> Path:
    signer = new_signer(tmp_path)
    path = tmp_path / "m.yml"
    path.write_text(native_matrix("127.0.0.1:9", "rocm/dev", signer.public_path,
                                  [{"version": "6.4.4", "digest": None}]))
    return path


@pytest.mark.parametrize("args", [
    ["--entries", "9.9.9/ubuntu-22.04"],
    ["--entries", "6.4.4/ubuntu-22.04", "--version", "6.4.4"],
    ["--version", "1.0"],
])
def test_bad_selection_is_one_line_bad_input(args: list[str], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = _matrix(tmp_path)
    raw = path.read_bytes()
    capsys.readouterr()
    assert clamp("update", "--matrix", str(path), *args) == 64
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert path.read_bytes() == raw


def test_malformed_matrix_is_bad_input(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.yml"
    path.write_text("version: 1\nimages: [\n")
    assert clamp("update", "--matrix", str(path)) == 64
    assert "Traceback" not in capsys.readouterr().err


def test_unreachable_registry_is_a_registry_error(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = _matrix(tmp_path)  # registry 127.0.0.1:9: nothing listens there
    raw = path.read_bytes()
    capsys.readouterr()
    assert clamp("update", "--matrix", str(path)) == 69
    assert path.read_bytes() == raw
    assert "6.4.4/ubuntu-22.04: error" in capsys.readouterr().out
