"""The terminal view at 80 columns and wider: verdicts, signers, whole numbers and digests, and
`--compare` with integer counts and shifts at their metric's precision."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from rich.console import Console

from clamp.telemetry import TemporalAggregator
from clamp.telemetry.inspect_compare import render_compare
from clamp.telemetry.inspect_view import render, short
from clamp.telemetry.models import TelemetrySummary
from clamp.telemetry.samples import write_sample_sessions

from .conftest import DIGESTS, provenance_doc

IDENTITY = ("https://github.com/rocm-ci/images/.github/workflows/build-and-sign-images.yml"
            "@refs/heads/main")


@pytest.fixture
def summary(tmp_path: Path) -> TelemetrySummary:
    write_sample_sessions(tmp_path, DIGESTS)
    doc = provenance_doc({DIGESTS[0]: "valid", DIGESTS[1]: "unsigned", DIGESTS[2]: "valid"})
    for rec in doc["records"]:
        rec["identity"] = IDENTITY if rec["trustStatus"] == "valid" else None
    (tmp_path / "build" / "rocm_provenance.json").write_text(json.dumps(doc))
    return TemporalAggregator(window="1d").accumulate(tmp_path)


def _text(summary: TelemetrySummary, width: int, soft_wrap: bool = False) -> str:
    with open(os.devnull, "w") as sink:
        console = Console(width=width, record=True, color_system=None, file=sink,
                          soft_wrap=soft_wrap)
        render(summary, console)
    return console.export_text()


@pytest.mark.parametrize("width", [80, 120, 150])
def test_nothing_is_cut(summary: TelemetrySummary, width: int) -> None:
    text = _text(summary, width)
    lines = text.splitlines()
    assert "…" not in text and max(len(line) for line in lines) <= width
    for image in summary.breakdown.byImage:
        assert short(image.digest) in text  # every digest whole, on one line
    assert text.count("REGRESSED") == 2
    # The shifts, whole on one line, rounded to their intervals.
    assert any("−0.059 [−0.065, −0.054]" in line for line in lines)
    assert any("+7 [−3, +22] ms" in line for line in lines)
    assert not re.search(r"\d\.\d{4}\b(?! *[│┃]? *\d)", text.replace("0.00", ""))
    # The signer identity is shown (folded over lines when it is longer than the space).
    flat = re.sub(r"\s|│", "", text)
    assert IDENTITY in flat and "identitynotrecorded" in flat
    assert "dev:6.4.4-ubuntu-22.04" in text


def test_soft_wrapped_console_folds_the_headline(summary: TelemetrySummary) -> None:
    # clamp's own stdout console soft-wraps; the framed headline must fold, never crop.
    text = _text(summary, 80, soft_wrap=True)
    panel = text.split("╰")[0]
    assert IDENTITY in re.sub(r"\s|│", "", panel)


def test_compare_counts_are_integers_and_shifts_sensible(summary: TelemetrySummary,
                                                         tmp_path: Path) -> None:
    write_sample_sessions(tmp_path / "other", DIGESTS[:2], seed=3)
    other = TemporalAggregator(window="1d").accumulate(tmp_path / "other")
    with open(os.devnull, "w") as sink:
        console = Console(width=80, record=True, color_system=None, file=sink)
        render_compare(summary, other, ("a", "b"), console)
    text = console.export_text()
    rows = {line.split()[0]: line for line in text.splitlines() if line[:1].isalpha()}
    assert re.search(r"sessionFileCount +│ 9 +│ 6 +│ +−3$", rows["sessionFileCount"])
    assert re.search(r"│ +−300$", rows["sessionCount"])  # the origin's meaning: records
    assert re.search(r"│ +−300$", rows["recordCount"])
    assert re.search(r"│ +[+−]0\.\d{3}$", rows["meanStability"])
    assert re.search(r"│ +[+−]\d+\.\d{1,2} ms$", rows["driftPercentile"])
    assert short(summary.provenanceDigest) in rows["provenanceDigest"]
    assert "…" not in text and not re.search(r"\d\.\d{5,}", text)
