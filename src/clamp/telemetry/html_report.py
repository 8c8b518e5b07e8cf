"""The self-contained HTML report: inline SVG plots, no scripts, no network at view time.

Plots are drawn here as SVG (mean stability and p95 duration per window), with a vertical marker
at every window where the image digest changed, coloured and labelled by that image's trust
status. A Content-Security-Policy of `default-src 'none'` makes the "no network" promise
enforceable by the browser, not just by convention. Element ids and classes (`plot-stability`,
`plot-p95`, `digest-change`, `provenance-table`) are stable for tests and for users' own styling.
"""

from __future__ import annotations

from html import escape

from clamp.telemetry.inspect_view import short
from clamp.telemetry.models import TelemetrySummary

_W, _H, _PAD = 760, 220, 44
_COLOURS = {"valid": "#1a7f37", "unknown": "#9a6700"}
_BAD = "#cf222e"

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:900px;color:#1f2328}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #d0d7de;padding:4px 6px;
text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.valid{color:#1a7f37}.unknown{color:#9a6700}.bad{color:#cf222e}code{font-size:.85em}
svg{background:#f6f8fa;border:1px solid #d0d7de}.kv td:first-child{color:#57606a;width:12rem}
"""


def _num(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _shift(value: float | None, digits: int) -> str:
    """A change, always signed (+10.7, -0.0602) like its interval."""
    return "—" if value is None else f"{value:+.{digits}f}"


def _status(status: str) -> str:
    css = status if status in ("valid", "unknown") else "bad"
    return f'<span class="{css}">{escape(status)}</span>'


def _plot(plot_id: str, title: str, values: list[float | None], starts: list[str],
          markers: list[tuple[int, str, str]], unit: str) -> str:
    """A line plot with point circles and change markers, as an inline SVG element."""
    present = [v for v in values if v is not None]
    parts = [f'<svg id="{plot_id}" class="plot" role="img" width="{_W}" height="{_H}" '
             f'viewBox="0 0 {_W} {_H}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    if present:
        lo, hi = min(present), max(present)
        span = (hi - lo) or 1.0
        n = len(values)

        def x(i: int) -> float:
            return _PAD + (i * (_W - 2 * _PAD) / max(1, n - 1))

        def y(v: float) -> float:
            return _H - _PAD - (v - lo) / span * (_H - 2 * _PAD)

        parts.append(f'<text x="4" y="{_PAD - 8}" font-size="11">{escape(unit)} '
                     f"{_num(hi, 4)}</text>")
        parts.append(f'<text x="4" y="{_H - _PAD + 16}" font-size="11">{_num(lo, 4)}</text>')
        for i, status, label in markers:
            colour = _COLOURS.get(status, _BAD)
            parts.append(
                f'<line class="digest-change" data-trust="{escape(status)}" x1="{x(i):.1f}" '
                f'x2="{x(i):.1f}" y1="{_PAD / 2:.1f}" y2="{_H - _PAD / 2:.1f}" stroke="{colour}" '
                f'stroke-dasharray="4 3"><title>{escape(label)}</title></line>'
                f'<text class="marker-label" x="{x(i) + 3:.1f}" y="{_PAD / 2 + 8:.1f}" '
                f'font-size="10" fill="{colour}">{escape(label)}</text>')
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values)
                          if v is not None)
        parts.append(f'<polyline class="series" fill="none" stroke="#0969da" stroke-width="2" '
                     f'points="{points}"/>')
        for i in {0, n - 1}:
            parts.append(f'<text x="{x(i) - 30:.1f}" y="{_H - 8}" font-size="10">'
                         f"{escape(starts[i][:10])}</text>")
        for i, v in enumerate(values):
            if v is not None:
                parts.append(f'<circle class="point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" '
                             f'fill="#0969da"><title>{escape(starts[i][:16])}: '
                             f"{_num(v, 4)}</title></circle>")
    else:
        parts.append(f'<text x="{_PAD}" y="{_H / 2}">no data</text>')
    parts.append("</svg>")
    return "".join(parts)


def _markers(summary: TelemetrySummary) -> list[tuple[int, str, str]]:
    out: list[tuple[int, str, str]] = []
    status_of = {img.digest: img.evidence.trustStatus for img in summary.breakdown.byImage}
    previous = None
    for i, window in enumerate(summary.breakdown.byWindow):
        digest = window.dominantDigest
        if i and digest and previous and digest != previous:
            status = status_of.get(digest, "unknown")
            out.append((i, status, f"image → {short(digest)} ({status})"))
        previous = digest or previous
    return out


def render_html(summary: TelemetrySummary) -> str:
    """The complete report as one HTML string."""
    s = summary
    windows = s.breakdown.byWindow
    starts = [w.start for w in windows]
    markers = _markers(s)
    head = (f"<tr><td>trust status</td><td>{_status(s.trustStatus)}</td></tr>"
            f"<tr><td>image digest</td><td><code>{escape(s.provenanceDigest or '—')}</code>"
            f"</td></tr><tr><td>issuer</td><td>{escape(s.provenanceIssuer or '—')}</td></tr>"
            f"<tr><td>signed at</td><td>{escape(s.provenanceTimestamp or '—')}</td></tr>"
            f"<tr><td>policy decision</td><td>{escape(s.policyDecision or '—')}</td></tr>"
            f"<tr><td>sessions / records</td><td>{s.sessionCount} / {s.recordCount}</td></tr>"
            f"<tr><td>mean stability</td><td>{_num(s.meanStability)} "
            f"(variance {_num(s.variance, 6)})</td></tr>"
            f"<tr><td>p95 duration</td><td>{_num(s.driftPercentile, 2)} ms</td></tr>"
            f"<tr><td>corrupt files / invalid records</td><td>{s.corruptFiles.count} / "
            f"{s.invalidRecords.count}</td></tr>")
    prov_rows = "".join(
        f"<tr><td><code title=\"{escape(img.digest or '')}\">"
        f"{escape(short(img.digest))}</code></td>"
        f"<td>{_status(img.evidence.trustStatus)}</td>"
        f"<td>{escape(img.evidence.provenanceIssuer or '—')}</td>"
        f"<td>{escape(img.evidence.provenanceIdentity or '—')}</td>"
        f"<td>{escape(img.evidence.provenanceTimestamp or '—')}</td>"
        f"<td>{escape(img.evidence.policyDecision or '—')}</td>"
        f'<td class="n">{img.sessionCount}</td><td class="n">{_num(img.meanStability)}</td>'
        f'<td class="n">{_num(img.driftPercentile, 2)}</td></tr>'
        for img in s.breakdown.byImage)
    change_rows = "".join(
        f'<tr><td>{escape(c.windowAfter[:10])}</td><td><code>{escape(short(c.digestBefore))}'
        f"</code> → <code>{escape(short(c.digestAfter))}</code></td>"
        f"<td>{_status(c.trustAfter)}</td>"
        f'<td class="n">{_shift(c.meanStabilityShift, 4)}'
        f"{_ci(c.meanStabilityShiftCI, 4)}</td>"
        f'<td class="n">{_shift(c.p95DurationShift, 1)}{_ci(c.p95DurationShiftCI, 1)}</td>'
        f"<td>{'yes' if c.significant else 'no'}</td></tr>" for c in s.changes)
    corrupt_rows = "".join(
        f"<tr><td><code>{escape(f.path)}</code></td><td>{escape(f.reason)}</td></tr>"
        for f in s.corruptFiles.files) + "".join(
        f"<tr><td>{count} record(s)</td><td>{escape(reason)}</td></tr>"
        for reason, count in s.invalidRecords.byReason.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Telemetry report</title><style>{_CSS}</style></head><body>
<h1>Telemetry report</h1>
<p>{escape(s.sourceDirectory)} · generated {escape(s.generatedAt)} · windows of {escape(s.window)}
</p>
<table class="kv" id="headline">{head}</table>
<h2>Mean stability per window</h2>
{_plot("plot-stability", "mean stability per window", [w.meanStability for w in windows],
       starts, markers, "stability")}
<h2>p95 duration per window (ms)</h2>
{_plot("plot-p95", "p95 duration_ms per window", [w.driftPercentile for w in windows], starts,
       markers, "ms")}
<h2>Image changes</h2>
<table id="changes-table"><thead><tr><th>window</th><th>image</th><th>trust</th>
<th>Δ mean stability [95% CI]</th><th>Δ p95 ms [95% CI]</th><th>significant</th></tr></thead>
<tbody>{change_rows}</tbody></table>
<h2>Provenance</h2>
<table id="provenance-table"><thead><tr><th>digest</th><th>trust</th><th>issuer</th>
<th>identity</th><th>signed at</th><th>policy</th><th>sessions</th><th>mean stability</th>
<th>p95 ms</th></tr></thead><tbody>{prov_rows}</tbody></table>
<h2>Corrupt inputs</h2>
<table id="corrupt-table"><tbody>{corrupt_rows}</tbody></table>
</body></html>
"""


def _ci(ci: list[float] | None, digits: int) -> str:
    if not ci:
        return ""
    return f" [{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}]"
