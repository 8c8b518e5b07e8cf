"""The self-contained HTML report: the verdict for each image change first, then the evidence.

One file, no scripts, inline SVG, and a Content-Security-Policy (`html_style.csp`) that admits
only its own stylesheet, so opening it makes no network request. Top to bottom: the headline
(the current image's trust and signer), one verdict per image change — regressed, improved or no
evidence, with the like-with-like effect and its interval —, plots of mean stability and p95
duration per window with the image changes marked, the changes in detail, each image's tag,
digest, trust status and signer, the backend/device breakdown, the GPUs and the corrupt inputs.
Element ids (`plot-stability`, `plot-p95`, `verdicts`, `changes-table`, `provenance-table`,
`breakdown-table`, `gpu-table`) and classes (`digest-change`) are stable for tests and styling.
"""

from __future__ import annotations

from html import escape

from clamp.telemetry import numfmt
from clamp.telemetry.html_plot import Axis, Marker, duration_axis, line_plot
from clamp.telemetry.html_style import CSS, csp
from clamp.telemetry.models import MIN_VERDICT_RECORDS, Change, ImageGroup, TelemetrySummary

_VERDICT_CLASS = {"regressed": "bad", "improved": "good"}


def _status(status: str) -> str:
    css = status if status in ("valid", "unknown") else "bad"
    return f'<span class="{css}">{escape(status)}</span>'


def _digest(digest: str | None) -> str:
    return (f'<code class="nw" title="{escape(digest or "")}">'
            f"{escape(numfmt.short_digest(digest))}</code>")


def _image(digest: str | None, images: dict[str | None, ImageGroup]) -> str:
    """The image's tag beside its (short) digest: "dev:6.4.4 sha256:abc…"."""
    img = images.get(digest)
    tag = numfmt.image_tag(img.image if img else None)
    return (f'<span class="tag">{escape(tag)}</span> ' if tag else "") + _digest(digest)


def _signer(img: ImageGroup | None) -> str:
    if img is None:
        return '<span class="muted">no evidence</span>'
    ev = img.evidence
    who = f'<span class="wrap">{_url(ev.provenanceIdentity or "identity not recorded")}</span>'
    issuer = f' <span class="note wrap">({_url(ev.provenanceIssuer)})</span>' \
        if ev.provenanceIssuer else ""
    return f"{_status(ev.trustStatus)} · {who}{issuer}"


def _url(text: str) -> str:
    """An identity or issuer URL, escaped, that may break after "/", "." and "@" (a narrow
    column then splits it into its parts, not at any letter)."""
    out = escape(text)
    for sep in ("/", ".", "@"):
        out = out.replace(sep, sep + "<wbr>")
    return out.replace("/<wbr>/<wbr>", "//")


def _policy(decision: str | None) -> str:
    """A policy decision, which may break after each "|": the origin's verifier writes one
    word of them ("mode=strict|require_sig=False|attest=none|status=0") that no cell holds."""
    return ('<span class="wrap">' + escape(decision or "—").replace("|", "|<wbr>")
            + "</span>")


def _td(label: str, content: str, numeric: bool = False) -> str:
    cls = ' class="n"' if numeric else ""
    # One child, so the narrow layout's two-column grid holds the label and the whole content.
    return f'<td data-label="{escape(label)}"{cls}><div>{content}</div></td>'


def _table(table_id: str, columns: list[tuple[str, bool]], rows: list[list[str]],
           caption: str = "") -> str:
    """A table that reflows on narrow screens; `columns` are (name, numeric)."""
    numeric = ' class="n"'
    head = "".join(f'<th scope="col"{numeric if num else ""}>{escape(name)}</th>'
                   for name, num in columns)
    body = "".join("<tr>" + "".join(_td(name, cell, num) for (name, num), cell in
                                    zip(columns, row, strict=True)) + "</tr>" for row in rows)
    cap = f"<caption class=\"note\">{escape(caption)}</caption>" if caption else ""
    return (f'<table id="{table_id}" class="reflow">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _num(text: str) -> str:
    """A shift "+12 [+5, +17] ms" as two unbreakable parts that may wrap between them."""
    value, sep, rest = text.partition(" [")
    return (f"<span>{escape(value)}</span> <span>[{escape(rest)}</span>" if sep
            else f"<span>{escape(text)}</span>")


def _verdict_badge(verdict: str) -> str:
    return (f'<span class="badge {_VERDICT_CLASS.get(verdict, "muted")}">'
            f"{escape(verdict)}</span>")


def _effect(c: Change) -> tuple[str, str]:
    """The like-with-like shifts with intervals; the plain ones when nothing was stratified."""
    mean = c.adjustedMeanStabilityShift
    mean_ci = c.adjustedMeanStabilityShiftCI
    p95, p95_ci = c.adjustedP95DurationShift, c.adjustedP95DurationShiftCI
    return (numfmt.shift(mean, mean_ci), numfmt.shift(p95, p95_ci, unit="ms"))


def _verdicts(s: TelemetrySummary, images: dict[str | None, ImageGroup]) -> str:
    if not s.changes:
        return '<p id="verdicts" class="muted">No image change between windows.</p>'
    items = []
    for c in s.changes:
        mean, p95 = _effect(c)
        css = {"regressed": "v-regressed", "improved": "v-improved"}.get(c.verdict, "v-none")
        compared = ("" if c.comparedShare is None else
                    f"compared within backend and device over "
                    f"{numfmt.percent(c.comparedShare)} of records, mix shift "
                    f"{numfmt.percent(c.mixShift)}")
        if c.strata and c.too_few_records():
            compared = numfmt.too_few(*c.compared_records(), MIN_VERDICT_RECORDS) + (
                f"; {compared}" if compared else "")
        items.append(
            f'<li class="{css}">{_verdict_badge(c.verdict)} '
            f"<strong>{escape(c.windowAfter[:10])}</strong>: "
            f"{_image(c.digestBefore, images)} → {_image(c.digestAfter, images)} "
            f"({_status(c.trustAfter)})"
            f'<div class="figures"><span>Δ mean stability {escape(mean)}</span>'
            f"<span>Δ p95 duration {escape(p95)}</span></div>"
            f'<div class="note">{escape(compared)}</div></li>')
    return f'<ol id="verdicts" class="verdicts">{"".join(items)}</ol>'


def _markers(s: TelemetrySummary, narrow: bool) -> list[Marker]:
    out: list[Marker] = []
    status_of = {img.digest: img.evidence.trustStatus for img in s.breakdown.byImage}
    images = {img.digest: img for img in s.breakdown.byImage}
    previous = None
    for i, window in enumerate(s.breakdown.byWindow):
        digest = window.dominantDigest
        if i and digest and previous and digest != previous:
            status = status_of.get(digest, "unknown")
            img = images.get(digest)
            name = numfmt.image_tag(img.image if img else None) or numfmt.short_digest(
                digest, 8)
            title = f"image → {numfmt.short_digest(digest)} ({status})"
            out.append(Marker(i, status, status if narrow else f"{name} ({status})", title))
        previous = digest or previous
    return out


def _plots(s: TelemetrySummary) -> str:
    windows = s.breakdown.byWindow
    starts = [w.start for w in windows]
    stab = [w.meanStability for w in windows]
    p95 = [w.driftPercentile for w in windows]
    out = []
    for plot_id, title, values, axis in (
            ("plot-stability", "Mean stability per window", stab,
             Axis("mean stability", upper=1.0)),
            ("plot-p95", "p95 duration per window", p95, duration_axis(p95))):
        wide = line_plot(plot_id, title, values, starts, _markers(s, False), axis,
                         width=1100, height=300, css_class="wide")
        narrow = line_plot(plot_id + "-narrow", title, values, starts, _markers(s, True), axis,
                           width=380, height=260, css_class="narrow")
        out.append(f"<figure>{wide}{narrow}<figcaption>{escape(title)}; dashed lines mark "
                   "image changes, coloured by the new image's trust status.</figcaption>"
                   "</figure>")
    return "".join(out)


def _changes_table(s: TelemetrySummary, images: dict[str | None, ImageGroup]) -> str:
    rows = [[f'<span class="nw">{escape(c.windowAfter[:10])}</span>',
             f"{_image(c.digestBefore, images)} → {_image(c.digestAfter, images)}",
             _signer(images.get(c.digestAfter)),
             _verdict_badge(c.verdict) + (' <span class="note">too few records</span>'
                                          if c.strata and c.too_few_records() else ""),
             _num(_effect(c)[0]), _num(_effect(c)[1]),
             _num(numfmt.shift(c.meanStabilityShift, c.meanStabilityShiftCI)),
             escape(numfmt.count(c.recordsBefore)) + " / " + escape(numfmt.count(
                 c.recordsAfter))] for c in s.changes]
    return _table("changes-table", [
        ("window", False), ("image change", False), ("new image: trust · signer", False),
        ("verdict", False), ("Δ stability [95% CI]", True),
        ("Δ p95 [95% CI]", True), ("Δ stability, plain", True),
        ("records before / after", True)], rows,
        "Δ: compared like with like (within each backend and device, then combined); "
        "'plain' is the before/after comparison the mix can fool.")


def _images_table(s: TelemetrySummary) -> str:
    rows = []
    for img in s.breakdown.byImage:
        ev = img.evidence
        rows.append([
            escape(numfmt.image_tag(img.image) or "—"), _digest(img.digest),
            _status(ev.trustStatus),
            f'<span class="wrap">{_url(ev.provenanceIdentity or "—")}</span>'
            + (f'<br><span class="note wrap">{_url(ev.provenanceIssuer)}</span>'
               if ev.provenanceIssuer else ""),
            # Date and time may part at the "T" (nowhere else): ten columns share 1280 px.
            "<wbr>".join(f'<span class="nw">{escape(part)}</span>' for part in (
                ev.provenanceTimestamp or "—").replace("T", "T\0", 1).split("\0")),
            _policy(ev.policyDecision), numfmt.count(img.sessionCount),
            numfmt.stability(img.meanStability), escape(numfmt.ms(img.driftPercentile))])
    return _table("provenance-table", [
        ("image", False), ("digest", False), ("trust", False),
        ("signer identity · issuer", False), ("signed at", False), ("policy", False),
        ("sessions", True),
        ("mean stability", True), ("p95 duration", True)], rows)


def _breakdown_table(s: TelemetrySummary) -> str:
    rows = [[escape(label), escape(g.key or "(none)"), numfmt.count(g.sessionCount),
             numfmt.count(g.recordCount), numfmt.stability(g.meanStability),
             escape(numfmt.ms(g.driftPercentile))]
            for label, groups in (("backend", s.breakdown.byBackend),
                                  ("device", s.breakdown.byDevice)) for g in groups]
    return _table("breakdown-table", [("by", False), ("group", False), ("sessions", True),
                                      ("records", True), ("mean stability", True),
                                      ("p95 duration", True)], rows)


def _one(value: float | None, unit: str) -> str:
    return "—" if value is None else f"<span>{value:.0f} {unit}</span>"


def _gpu_table(s: TelemetrySummary) -> str:
    rows = []
    for c in s.gpuMetrics.cards:
        temp = c.maxTemperatureEdgeC if c.maxTemperatureEdgeC is not None \
            else c.maxTemperatureGpuC
        vram = "—" if c.maxVramUsedBytes is None else (
            f"{c.maxVramUsedBytes / 2**30:.1f}" + (
                f" / {c.vramTotalBytes / 2**30:.0f}" if c.vramTotalBytes else "") + " GiB")
        clocks = ", ".join(f"{k} {v:.0f}" for k, v in sorted(c.maxClocksMhz.items()))
        rows.append([escape(c.card), escape(c.vendor or "—"), escape(c.name or "—"),
                     _one(temp, "°C"), _one(c.maxTemperatureJunctionC, "°C"),
                     _one(c.maxTemperatureMemoryC, "°C"),
                     f"{_one(c.meanPowerW, 'W')} / {_one(c.powerLimitW, 'W')}",
                     _one(c.meanGpuUsePercent, "%"), vram,
                     escape(clocks + " MHz" if clocks else "—")])
    caption = (f"{s.gpuMetrics.snapshotCount} snapshots; temperatures, VRAM and clocks are "
               "maxima, power and use are means. Temp. is AMD's edge or NVIDIA's die sensor.")
    return _table("gpu-table", [
        ("card", False), ("vendor", False), ("name", False), ("temp.", True),
        ("junction", True), ("memory", True), ("power / limit", True), ("use", True),
        ("VRAM used / total", True), ("max clocks", False)], rows, caption)


def _headline(s: TelemetrySummary, images: dict[str | None, ImageGroup]) -> str:
    current = images.get(s.provenanceDigest)
    rows = [("trust status", _signer(current) if current else _status(s.trustStatus)),
            ("current image", _image(s.provenanceDigest, images)
             if s.provenanceDigest else "—"),
            ("issuer", _url(s.provenanceIssuer or "—")),
            ("signed at", escape(s.provenanceTimestamp or "—")),
            ("policy decision", _policy(s.policyDecision)),
            ("sessions / records", f"{numfmt.count(s.sessionFileCount)} / "
                                   f"{numfmt.count(s.recordCount)}"),
            ("mean stability", f"{numfmt.stability(s.mean)}"),
            ("p95 duration", escape(numfmt.ms(s.p95))),
            ("corrupt files / invalid records", f"{numfmt.count(s.corruptFiles.count)} / "
                                                f"{numfmt.count(s.invalidRecords.count)}")]
    body = "".join(f'<tr><th scope="row">{escape(k)}</th><td>{v}</td></tr>' for k, v in rows)
    return f'<table class="kv" id="headline"><tbody>{body}</tbody></table>'


def _corrupt(s: TelemetrySummary) -> str:
    rows = [[f"<code>{escape(f.path)}</code>", escape(f.reason)] for f in s.corruptFiles.files]
    rows += [[f"{numfmt.count(n)} record(s)", escape(reason)]
             for reason, n in s.invalidRecords.byReason.items()]
    if not rows:
        return '<p class="muted">None.</p>'
    return _table("corrupt-table", [("input", False), ("reason", False)], rows)


def render_html(summary: TelemetrySummary) -> str:
    """The complete report as one HTML string."""
    s = summary
    images = {img.digest: img for img in s.breakdown.byImage}
    gpu = _gpu_table(s) if s.gpuMetrics.cards else '<p class="muted">No GPU snapshots.</p>'
    gpu += "".join(f'<p class="bad">Lost GPU {escape(g.gpu)} in {escape(g.path)}: '
                   f"{escape(g.reason)}</p>" for g in s.gpuMetrics.lostGpus[:10])
    changes = _changes_table(s, images) if s.changes else \
        '<p class="muted">No image change between windows.</p>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp()}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Telemetry report</title><style>{CSS}</style></head><body><main>
<h1>Telemetry report</h1>
<p class="meta">{escape(s.sourceDirectory)} · generated {escape(s.generatedAt)} · windows of
{escape(s.window)}</p>
{_headline(s, images)}
<h2>Did an image change hurt?</h2>
{_verdicts(s, images)}
<h2>Stability over time</h2>
{_plots(s)}
<h2>Image changes in detail</h2>
{changes}
<h2>Images and their trust evidence</h2>
{_images_table(s)}
<h2>By backend and device</h2>
{_breakdown_table(s)}
<h2>GPUs</h2>
{gpu}
<h2>Corrupt inputs</h2>
{_corrupt(s)}
</main></body></html>
"""
