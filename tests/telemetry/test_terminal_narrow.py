"""The terminal view as clamp's own console prints it (soft-wrapping, as `output.out_console`)
at 80 columns, on a mixed fleet with a long trust status and a long issuer: no line past the
width, no number split over lines, signer identities folded under themselves."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from rich.console import Console

from clamp.telemetry import TemporalAggregator
from clamp.telemetry.inspect_compare import render_multi_compare
from clamp.telemetry.inspect_view import render, sessions_table
from clamp.telemetry.models import TelemetrySummary
from clamp.telemetry.samples import write_sample_sessions

from .conftest import DIGESTS, provenance_doc

IDENTITY = ("https://github.com/rocm-ci/images/.github/workflows/build-and-sign-images.yml"
            "@refs/heads/main")
ISSUER = "https://token.actions.githubusercontent.com"


def _fleet(root: Path) -> TelemetrySummary:
    write_sample_sessions(root, DIGESTS)
    doc = provenance_doc({DIGESTS[0]: "valid", DIGESTS[1]: "unsigned",
                          DIGESTS[2]: "identity_mismatch"})
    for rec in doc["records"]:
        rec["identity"] = IDENTITY if rec["trustStatus"] != "unsigned" else None
        rec["issuer"] = ISSUER if rec["identity"] else None
    (root / "build" / "rocm_provenance.json").write_text(json.dumps(doc))
    return TemporalAggregator(window="1d").accumulate(root)


@pytest.fixture
def summary(tmp_path: Path) -> TelemetrySummary:
    return _fleet(tmp_path)


def _text(render_to: object, width: int) -> str:
    with open(os.devnull, "w") as sink:
        # What `output.out_console()` builds: soft_wrap=True.
        console = Console(width=width, record=True, color_system=None, file=sink,
                          soft_wrap=True, highlight=False)
        render_to(console)  # type: ignore[operator]
    return console.export_text()


@pytest.mark.parametrize("width", [80, 100, 120, 150])
def test_no_line_past_the_width_of_a_soft_wrapping_console(summary: TelemetrySummary,
                                                           width: int) -> None:
    text = _text(lambda c: render(summary, c), width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width, [ln for ln in lines if len(ln) > width]
    # Every image's p95 whole on its line (it used to be squeezed one character a line).
    for image in summary.breakdown.byImage:
        assert re.search(r"\d+(\.\d+)? ms", next(ln for ln in lines
                                                 if ln.startswith(f"sha256:{image.digest[7:19]}")
                                                 and "│" in ln))
    assert "identity_mismatch" in text
    # Identities fold under themselves, never back to column 0.
    assert not any(line.startswith(("ease", "ages", "ds/main", "n.yml")) for line in lines)
    assert IDENTITY in re.sub(r"\s|│", "", text)


def test_headline_gives_trust_image_signer_and_issuer_a_line_each(
        summary: TelemetrySummary) -> None:
    panel = _text(lambda c: render(summary, c), 80).split("╰")[0]
    rows = {line.strip("│ ").split(" ")[0]: line for line in panel.splitlines()[1:]}
    assert "identity_mismatch" in rows["trust"] and "dev:6.4.4-ubuntu-22.04" in rows["image"]
    assert ISSUER in rows["issuer"]
    assert IDENTITY in re.sub(r"\s|│", "", panel.split("signer", 1)[1].split("issuer")[0])


def test_the_glob_comparison_fits_80_columns(summary: TelemetrySummary,
                                            tmp_path: Path) -> None:
    other = _fleet(tmp_path / "other")
    named = [(str(tmp_path / "build" / "telemetry_summary.json"), summary),
             (str(tmp_path / "other" / "build" / "telemetry_summary.json"), other)]
    for width in (80, 160):
        text = _text(lambda c: render_multi_compare(named, c), width)
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= width
        assert "…" not in text, text
        assert not re.search(r"\d\.\d{3,} ms", text)
        assert re.search(r"\d+\.\d ms", text) and "+0.000" in text


def test_sessions_table_rounds_as_the_rest(summary: TelemetrySummary) -> None:
    text = _text(lambda c: c.print(sessions_table(summary)), 100)
    assert not re.search(r"\d\.\d{4}", text) and re.search(r"\d+\.\d ms", text)


def test_one_image_says_there_was_no_change(tmp_path: Path) -> None:
    write_sample_sessions(tmp_path, DIGESTS[:1])
    summary = TemporalAggregator(window="1d").accumulate(tmp_path)
    assert summary.changes == []
    assert "image changes: none between windows" in _text(lambda c: render(summary, c), 80)
