"""The HTML report of a mixed fleet as its users have it: a long OIDC issuer, the origin
verifier's pipe-joined policy decision, an image change every three days with long tags and
statuses, AMD beside NVIDIA. Nothing past the viewport at 390 or 1280 px, no marker label over
another, and a summary without records showing no made-up zeros."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from clamp.telemetry import TemporalAggregator
from clamp.telemetry.html_plot import place_labels
from clamp.telemetry.html_report import render_html
from clamp.telemetry.job_summary import markdown
from clamp.telemetry.samples import write_sample_sessions

from .conftest import provenance_doc
from .test_html_browser import CHROMIUM, CLIPPED, OVERFLOW, SVG_TEXT, _browser

DIGESTS = ["sha256:" + c * 64 for c in "abcde"]
ISSUER = "https://token.actions.githubusercontent.com"
POLICY = "mode=strict|require_sig=False|attest=none|status=0"

# Bounding boxes of marker labels that intersect, per plot.
OVERLAPS = """() => {
  const out = [];
  for (const svg of document.querySelectorAll('svg.plot')) {
    if (svg.getBoundingClientRect().width === 0) continue;
    const boxes = [...svg.querySelectorAll('text.marker-label, text.axis-title')]
      .map(t => [t.textContent, t.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, r] = boxes[i], [b, q] = boxes[j];
      if (r.left < q.right && q.left < r.right && r.top < q.bottom && q.top < r.bottom)
        out.push(svg.id + ': ' + a + ' / ' + b);
    }
  }
  return out;
}"""


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    write_sample_sessions(tmp_path, DIGESTS)
    doc: dict[str, Any] = provenance_doc(dict(zip(DIGESTS, ["valid", "unsigned", "valid",
                                                             "valid", "identity_mismatch"],
                                                strict=True)))
    for k, rec in enumerate(doc["records"]):
        rec["image"] = f"ghcr.io/rocm/dev:6.{k}.4-complete-ubuntu-24.04@{rec['digest']}"
        rec["issuer"] = ISSUER
        rec["policyDecision"] = POLICY
        rec["identity"] = ("https://github.com/ROCm/rocm-images/.github/workflows/"
                           "release.yml@refs/tags/v6.4.4")
    (tmp_path / "build" / "rocm_provenance.json").write_text(json.dumps(doc))
    summary = TemporalAggregator(window="1d").accumulate(tmp_path)
    assert len(summary.changes) == 4
    out = tmp_path / "report.html"
    out.write_text(render_html(summary))
    return out


def test_labels_are_placed_apart() -> None:
    # Four 150-unit labels 60 units apart on a 400-wide plot: stacked, none over another.
    placed = place_labels([(60.0 * k, 150.0) for k in range(1, 5)], 40.0, 398.0)
    rows = [row for row, _ in placed]
    assert None not in rows and len(set(rows)) == 3
    spans: dict[int, list[tuple[float, float]]] = {}
    for (x, w), (row, anchor) in zip([(60.0 * k, 150.0) for k in range(1, 5)], placed,
                                     strict=True):
        if row is None:
            continue
        lo, hi = (x + 4, x + 4 + w) if anchor == "start" else (x - 4 - w, x - 4)
        assert lo >= 40.0 and hi <= 398.0
        assert all(hi <= a or b <= lo for a, b in spans.get(row, []))
        spans.setdefault(row, []).append((lo, hi))


def test_unbreakable_words_may_break(fleet: Path) -> None:
    html = fleet.read_text()
    assert "mode=strict|<wbr>require_sig=False|<wbr>attest=none|<wbr>status=0" in html
    assert ".kv td{overflow-wrap:anywhere}" in html


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")
@pytest.mark.parametrize("width", [390, 1280])
def test_a_mixed_fleet_report_fits_and_no_label_hides_another(fleet: Path,
                                                              width: int) -> None:
    with _browser() as browser:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(fleet.as_uri())
        layout = page.evaluate(OVERFLOW)
        assert layout["over"] == [] and layout["scroll"] <= layout["width"], layout
        assert page.evaluate(CLIPPED) == []
        assert page.evaluate(SVG_TEXT) == []
        assert page.evaluate(OVERLAPS) == []
        assert page.locator("#verdicts li").count() == 4
        if width == 1280:
            # The signer column had ~130 px of ten columns and split URLs letter by letter.
            for cell in ("#provenance-table td:nth-child(4)", "#changes-table td:nth-child(3)"):
                box = page.locator(cell).first.bounding_box()
                assert box is not None and box["width"] >= 200, (cell, box)


def test_no_records_shows_no_zeros(tmp_path: Path) -> None:
    tdir = tmp_path / "build" / "telemetry"
    tdir.mkdir(parents=True)
    (tdir / "s.json").write_text(json.dumps({"records": [{"stability_score": 2.0},
                                                         {"seed": 0, "stability_score": 1}]}))
    summary = TemporalAggregator(window="1d").accumulate(tmp_path)
    assert summary.recordCount == 0 and summary.meanStability == 0  # the origin's value
    md = markdown(summary)
    assert "| 0 | 0 | — | — |" in md
    html = render_html(summary)
    assert re.search(r"mean stability</th><td>—<", html)
    assert re.search(r"p95 duration</th><td>—<", html)


def test_hostile_tags_and_identities_are_text_everywhere(tmp_path: Path) -> None:
    import os

    from rich.console import Console

    from clamp.telemetry.inspect_view import render

    write_sample_sessions(tmp_path, DIGESTS[:2])
    evil = "https://github.com/<script>alert(1)</script>/[red]x[/red]|`ü`/w.yml@refs/heads/main"
    doc: dict[str, Any] = provenance_doc({DIGESTS[0]: "valid", DIGESTS[1]: "valid"})
    for rec in doc["records"]:
        rec["identity"], rec["issuer"] = evil, ISSUER
        rec["image"] = f"ghcr.io/rocm/dev:6.4.4|<i>ü@{rec['digest']}"
    (tmp_path / "build" / "rocm_provenance.json").write_text(json.dumps(doc))
    summary = TemporalAggregator(window="1d").accumulate(tmp_path)
    html = render_html(summary)
    assert "<script>" not in html and "<i>" not in html and "&lt;script&gt;" in html
    assert "default-src 'none'" in html and "<script" not in html
    md = markdown(summary)
    assert "<script>" not in md and "dev:6.4.4\\|&lt;i&gt;ü" in md
    with open(os.devnull, "w") as sink:
        console = Console(width=100, record=True, color_system=None, file=sink)
        render(summary, console)
    text = re.sub(r"\s|│", "", console.export_text())
    assert "[red]x[/red]" in text and "<script>alert(1)</script>" in text
