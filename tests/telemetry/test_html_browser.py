"""The HTML report in a real headless Chromium: loads cleanly, plots and markers present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from clamp.telemetry.html_report import render_html
from clamp.telemetry.samples import write_sample_sessions
from clamp.telemetry.summary_io import load_summary

from .conftest import DIGESTS, provenance_doc

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def report(tmp_path: Path) -> Path:
    write_sample_sessions(tmp_path, DIGESTS)
    (tmp_path / "build" / "rocm_provenance.json").write_text(json.dumps(
        provenance_doc({DIGESTS[0]: "valid", DIGESTS[1]: "unsigned", DIGESTS[2]: "valid"})))
    assert invoke(app, ["telemetry", "accumulate", str(tmp_path)], prog_name="clamp") == 0
    out = tmp_path / "report.html"
    assert invoke(app, ["telemetry", "inspect", str(tmp_path), "--html", str(out)],
                  prog_name="clamp") == 0
    return out


def test_report_is_self_contained(report: Path) -> None:
    html = report.read_text()
    assert "default-src 'none'" in html
    for needle in ("http://", "https://"):
        # Only the SVG namespace and data from the summary may mention a URL.
        assert all(part.startswith(("www.w3.org", "issuer.example"))
                   for part in html.split(needle)[1:])
    assert "<script" not in html


def test_report_escapes_hostile_text(tmp_path: Path, report: Path) -> None:
    summary = load_summary(report.parent)
    evil = summary.model_copy(update={"sourceDirectory": "<script>alert(1)</script>"})
    assert "<script>alert" not in render_html(evil)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")
def test_report_in_headless_chromium(report: Path) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            assert page.title() == "Telemetry report"
            for plot in ("#plot-stability", "#plot-p95"):
                assert page.locator(f"{plot} polyline.series").count() == 1
                assert page.locator(f"{plot} circle.point").count() == 9
                markers = page.locator(f"{plot} line.digest-change")
                assert markers.count() == 2
                assert markers.nth(0).get_attribute("data-trust") == "unsigned"
                box = page.locator(plot).bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 100
            rows = page.locator("#provenance-table tbody tr")
            assert rows.count() == 3
            assert "unsigned" in rows.nth(1).inner_text()
            assert page.locator("#changes-table tbody tr").count() == 2
        finally:
            browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []
