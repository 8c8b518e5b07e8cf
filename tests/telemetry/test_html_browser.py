"""The HTML report in a real headless Chromium: verdicts, plots, no overflow at 390 and 1280 px,
dark mode, accessibility (axe-core, plus the document's own checks), no network, no scripts."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from clamp.cli.main import app, invoke
from clamp.telemetry.html_report import render_html
from clamp.telemetry.html_style import CSS
from clamp.telemetry.samples import write_sample_sessions
from clamp.telemetry.summary_io import load_summary

from .conftest import DIGESTS, provenance_doc

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / ".tools" / "axe-core" / "axe.min.js"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
#: Screenshots go here when set (to look at them); else into the test's temp directory.
SHOTS = os.environ.get("CLAMP_REPORT_SHOTS")
IDENTITY = ("https://github.com/rocm-ci/images/.github/workflows/build-and-sign-images.yml"
            "@refs/heads/main")


@pytest.fixture
def report(tmp_path: Path) -> Path:
    write_sample_sessions(tmp_path, DIGESTS)
    doc = provenance_doc({DIGESTS[0]: "valid", DIGESTS[1]: "unsigned", DIGESTS[2]: "valid"})
    for rec in doc["records"]:
        rec["identity"] = IDENTITY if rec["trustStatus"] == "valid" else None
    (tmp_path / "build" / "rocm_provenance.json").write_text(json.dumps(doc))
    assert invoke(app, ["telemetry", "accumulate", str(tmp_path)], prog_name="clamp") == 0
    out = tmp_path / "report.html"
    assert invoke(app, ["telemetry", "inspect", str(tmp_path), "--html", str(out)],
                  prog_name="clamp") == 0
    return out


def test_report_is_self_contained(report: Path) -> None:
    html = report.read_text().replace("<wbr>", "")  # break opportunities in URLs
    assert "default-src 'none'" in html and "'unsafe-inline'" not in html
    for needle in ("http://", "https://"):
        # Only the SVG namespace and data from the summary may mention a URL.
        assert all(part.startswith(("www.w3.org", "issuer.example", "github.com/rocm-ci"))
                   for part in html.split(needle)[1:])
    assert "<script" not in html and " style=" not in html


def test_report_escapes_hostile_text(tmp_path: Path, report: Path) -> None:
    summary = load_summary(report.parent)
    evil = summary.model_copy(update={"sourceDirectory": "<script>alert(1)</script>"})
    assert "<script>alert" not in render_html(evil)


def test_report_has_verdicts_tags_and_signers(report: Path) -> None:
    html = report.read_text().replace("<wbr>", "")  # break opportunities in URLs
    summary = load_summary(report.parent)
    assert [c.verdict for c in summary.changes] == ["regressed", "regressed"]
    assert html.count('class="badge bad">regressed') == 4  # verdict list and changes table
    assert "dev:6.4.4-ubuntu-22.04" in html and IDENTITY in html
    # No 4-decimal milliseconds anywhere: durations carry the precision their size needs.
    assert not re.search(r"\d\.\d{4} ms", html)


@contextmanager
def _browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


# Elements whose right edge passes the viewport, and whether the page scrolls sideways.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const over = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > width + 0.5 || r.left < -0.5) over.push(el.tagName + '#' + el.id + '.' +
        el.className.baseVal + el.className + ' ' + Math.round(r.left) + '..' +
        Math.round(r.right));
  }
  return {width, scroll: document.documentElement.scrollWidth, over: over.slice(0, 10)};
}"""

# Text clipped by its box (a cell whose content is wider than the cell, with hidden overflow).
CLIPPED = """() => [...document.querySelectorAll('td, th, .badge, .figures span')]
  .filter(el => el.scrollWidth > el.clientWidth + 1 && el.offsetParent !== null)
  .map(el => el.tagName + ':' + el.textContent.slice(0, 40))"""

# Every SVG text inside its svg's box.
SVG_TEXT = """() => {
  const out = [];
  for (const svg of document.querySelectorAll('svg.plot')) {
    const box = svg.getBoundingClientRect();
    if (box.width === 0) continue;
    for (const t of svg.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 ||
          r.bottom > box.bottom + 0.5) out.push(svg.id + ': ' + t.textContent);
    }
  }
  return out;
}"""

# WCAG contrast of each text element's colour against the page background.
CONTRAST = """() => {
  const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = c => { const [r, g, b] = c.map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05); };
  const worst = {};
  for (const el of document.querySelectorAll('body *')) {
    if (!el.getClientRects().length || el.tagName.toLowerCase() === 'title' ||
        ![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    let bgEl = el, bg = 'rgba(0, 0, 0, 0)';
    while (bgEl && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) {
      bg = getComputedStyle(bgEl).backgroundColor; bgEl = bgEl.parentElement; }
    if (bg === 'rgba(0, 0, 0, 0)') bg = getComputedStyle(document.documentElement)
      .backgroundColor;
    const style = getComputedStyle(el);
    const colour = el instanceof SVGElement ? style.fill : style.color;
    const r = ratio(rgb(colour), rgb(bg));
    const key = colour + ' on ' + bg;
    if (!(key in worst) || r < worst[key]) worst[key] = r;
  }
  return worst;
}"""


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")
@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_report_in_headless_chromium(report: Path, tmp_path: Path, width: int,
                                     scheme: str) -> None:
    errors: list[str] = []
    requests: list[str] = []
    shots = Path(SHOTS) if SHOTS else tmp_path
    with _browser() as browser:
        page = browser.new_page(viewport={"width": width, "height": 900},
                                color_scheme=scheme)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        assert page.title() == "Telemetry report"
        suffix = "-narrow" if width < 640 else ""
        for plot in ("#plot-stability", "#plot-p95"):
            shown = page.locator(plot + suffix)
            assert shown.is_visible() and not page.locator(
                plot + ("" if suffix else "-narrow")).is_visible()
            assert shown.locator("polyline.series").count() == 1
            assert shown.locator("circle.point").count() == 9
            markers = shown.locator("line.digest-change")
            assert markers.count() == 2
            assert markers.nth(0).get_attribute("data-trust") == "unsigned"
            assert shown.locator("text.tick").count() >= 5  # y ticks and dates
            assert shown.locator("line.grid").count() >= 3
            box = shown.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 150
        rows = page.locator("#provenance-table tbody tr")
        assert rows.count() == 3 and "unsigned" in rows.nth(1).inner_text()
        assert page.locator("#changes-table tbody tr").count() == 2
        assert page.locator("#verdicts li").count() == 2
        assert "REGRESSED" in page.locator("#verdicts li").nth(0).inner_text()
        assert page.locator("#gpu-table tbody tr").count() == 2
        assert "NVIDIA" in page.locator("#gpu-table").inner_text()
        assert page.locator("#breakdown-table tbody tr").count() == 4
        layout = page.evaluate(OVERFLOW)
        assert layout["over"] == [] and layout["scroll"] <= layout["width"], layout
        assert page.evaluate(CLIPPED) == []
        assert page.evaluate(SVG_TEXT) == []
        contrast = page.evaluate(CONTRAST)
        assert contrast and min(contrast.values()) >= 4.5, contrast
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(255, 255, 255)") == (scheme == "light")
        page.screenshot(path=str(shots / f"report-{width}-{scheme}.png"), full_page=True)
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")
def test_report_document_structure(report: Path) -> None:
    with _browser() as browser:
        page = browser.new_page()
        page.goto(report.as_uri())
        assert page.evaluate("document.documentElement.lang") == "en"
        levels = page.evaluate("[...document.querySelectorAll('h1,h2,h3,h4')]"
                               ".map(h => +h.tagName[1])")
        assert levels[0] == 1 and levels.count(1) == 1
        assert all(b - a <= 1 for a, b in pairwise(levels))
        # Every data table has column headers, and every row header is a th scope=row.
        assert page.evaluate("[...document.querySelectorAll('table.reflow')].every(t => "
                             "t.querySelectorAll('thead th[scope=col]').length > 0)")
        # Each plot is an image with a text alternative.
        assert page.evaluate("[...document.querySelectorAll('svg.plot')].every(s => "
                             "s.getAttribute('role') === 'img' && "
                             "document.getElementById(s.getAttribute('aria-labelledby')))")
        # The stylesheet runs only because the CSP names its hash (a changed style would not).
        assert page.evaluate("getComputedStyle(document.querySelector('.badge'))"
                             ".textTransform") == "uppercase"
        assert CSS.strip()[:5] == ":root"


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")
@pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (scripts/setup)")
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_report_passes_axe(report: Path, scheme: str) -> None:
    with _browser() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
        page.goto(report.as_uri())
        # Evaluated by the test through the DevTools protocol: the page itself runs no script
        # (its CSP forbids them), so axe is not added as a <script> element.
        result = page.evaluate(AXE.read_text() + "\n;axe.run(document, {resultTypes: "
                               "['violations']}).then(r => r.violations.map(v => "
                               "({id: v.id, impact: v.impact, nodes: v.nodes.length, "
                               "help: v.help})))")
        assert result == []


def test_report_of_an_empty_or_original_summary(tmp_path: Path) -> None:
    # An original-format summary (headline keys only): no windows, changes or GPUs to show.
    path = tmp_path / "telemetry_summary.json"
    path.write_text(json.dumps({"sourceDirectory": "x", "sessionCount": 0, "meanStability": None,
                                "variance": None, "driftPercentile": None}))
    html = render_html(load_summary(path))
    assert "No image change between windows." in html and "No GPU snapshots." in html
    assert html.count("no data") == 4  # both plots, wide and narrow
