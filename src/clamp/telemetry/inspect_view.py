"""The terminal view of a summary (rich): what ran, was it trusted, did stability change.

Layout, top to bottom: the headline with the current image's trust status; each image's trust
beside its stability; sparklines of mean stability and p95 duration per window with markers where
the image changed; the attributed changes; breakdowns; corrupt inputs; GPU readings.
`render_compare` puts two summaries side by side. Nothing here computes statistics: it only
shows what the summary holds, so the terminal and the JSON can never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clamp.telemetry.models import Change, Stats, TelemetrySummary

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

_BARS = "▁▂▃▄▅▆▇█"
_STATUS_STYLE = {"valid": "green", "unknown": "yellow", "unsigned": "red", "invalid": "red",
                 "identity_mismatch": "red", "error": "red"}


def sparkline(values: list[float | None]) -> str:
    """Eight-level bar characters scaled to the values' range; a gap for missing values."""
    present = [v for v in values if v is not None]
    if not present:
        return ""
    lo, hi = min(present), max(present)
    span = hi - lo
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        else:
            level = 0 if span == 0 else round((v - lo) / span * (len(_BARS) - 1))
            out.append(_BARS[level])
    return "".join(out)


def change_markers(summary: TelemetrySummary) -> str:
    """A line under the sparklines: '│' where the dominant image changed, '·' elsewhere."""
    marks = []
    previous: str | None = None
    for i, window in enumerate(summary.breakdown.byWindow):
        digest = window.dominantDigest
        marks.append("│" if i and digest and previous and digest != previous else "·")
        previous = digest or previous
    return "".join(marks)


def fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def short(digest: str | None) -> str:
    if not digest:
        return "(none)"
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}"


def status_text(status: str) -> str:
    from rich.markup import escape

    return f"[{_STATUS_STYLE.get(status, 'red')}]{escape(status)}[/]"


#: Below this console width the images table leaves out issuer and variance (the headline and
#: the JSON still have them) so that trust and stability stay readable on an 80-column terminal.
WIDE = 110
#: The changes table needs this much; below it each change is two lines of text instead.
WIDE_CHANGES = 140


def _table(title: str, *columns: str) -> Table:
    """A plain table; columns named with a capital are numeric and right-aligned, and neither
    they nor the first column wrap (a number or digest split over lines misleads)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for i, column in enumerate(columns):
        numeric = column[:1].isupper()
        table.add_column(column, justify="right" if numeric else "left",
                         no_wrap=i == 0 or numeric)
    return table


def headline(summary: TelemetrySummary) -> RenderableType:
    from rich.markup import escape
    from rich.panel import Panel

    s = summary
    lines = [
        f"source       {escape(s.sourceDirectory)}",
        f"sessions     {s.sessionCount}    records {s.recordCount}    window {s.window}",
        f"stability    mean {fmt(s.meanStability)}   variance {fmt(s.variance, 6)}",
        f"duration p95 {fmt(s.driftPercentile, 2)} ms",
        f"trust        {status_text(s.trustStatus)}  image {escape(short(s.provenanceDigest))}"
        f"  decision {escape(s.policyDecision or '—')}",
        f"issuer       {escape(s.provenanceIssuer or '—')}",
        f"signed at    {escape(s.provenanceTimestamp or '—')}"
        f"   algorithm {escape(s.digestAlgorithm or '—')}",
    ]
    if s.untrustedSessions:
        lines.append(f"[red]{len(s.untrustedSessions)} session(s) ran untrusted images[/]")
    return Panel("\n".join(lines), title="telemetry summary", expand=False)


def images_table(summary: TelemetrySummary, wide: bool = True) -> RenderableType:
    """Each image's trust beside its stability; `wide` adds issuer and variance."""
    from rich.markup import escape

    columns = ["image", "trust", "issuer", "Sessions", "Records", "Mean stab.", "Variance",
               "p95 ms"]
    if not wide:
        columns = [c for c in columns if c not in ("issuer", "Variance")]
    table = _table("images: trust beside stability", *columns)
    table.columns[1].no_wrap = True

    def row(label: str, status: str, issuer: str, stats: Stats) -> None:
        cells = {"image": label, "trust": status, "issuer": issuer,
                 "Sessions": str(stats.sessionCount), "Records": str(stats.recordCount),
                 "Mean stab.": fmt(stats.meanStability), "Variance": fmt(stats.variance, 6),
                 "p95 ms": fmt(stats.driftPercentile, 2)}
        table.add_row(*(cells[c] for c in columns))

    for img in summary.breakdown.byImage:
        row(escape(short(img.digest)), status_text(img.evidence.trustStatus),
            escape(img.evidence.provenanceIssuer or "—"), img)
    for name, stats in (("trusted", summary.trusted), ("untrusted", summary.untrusted),
                        ("unverified", summary.unverified)):
        if stats.recordCount:
            row(f"[dim]all {name}[/]", "", "", stats)
    return table


def timeline(summary: TelemetrySummary) -> RenderableType:
    from rich.markup import escape

    windows = summary.breakdown.byWindow
    if not windows:
        return "[dim]no windows with valid records[/]"
    first, last = windows[0].start, windows[-1].start
    return "\n".join([
        f"[bold]over time[/] ({len(windows)} windows of {summary.window}, "
        f"{escape(first[:10])} → {escape(last[:10])})",
        f"  mean stability  {sparkline([w.meanStability for w in windows])}",
        f"  p95 duration    {sparkline([w.driftPercentile for w in windows])}",
        f"  image changes   {change_markers(summary)}",
    ])


def _intervals(c: Change) -> tuple[str, str]:
    """The two shifts with their 95% intervals, as text."""
    mean_ci = (f" [{c.meanStabilityShiftCI[0]:+.4f}, {c.meanStabilityShiftCI[1]:+.4f}]"
               if c.meanStabilityShiftCI else "")
    p95_ci = (f" [{c.p95DurationShiftCI[0]:+.1f}, {c.p95DurationShiftCI[1]:+.1f}]"
              if c.p95DurationShiftCI else "")
    return (f"{c.meanStabilityShift or 0:+.4f}{mean_ci}",
            f"{c.p95DurationShift or 0:+.1f}{p95_ci}")


def changes_table(summary: TelemetrySummary, wide: bool = True) -> RenderableType:
    """The attributed image changes: a table when wide, two lines per change when narrow."""
    from rich.markup import escape

    if not wide:
        lines = ["[bold]image changes and what came with them[/]"]
        for c in summary.changes:
            mean, p95 = _intervals(c)
            lines.append(
                f"  {escape(c.windowAfter[:10])}  {escape(short(c.digestBefore))} "
                f"({status_text(c.trustBefore)}) → {escape(short(c.digestAfter))} "
                f"({status_text(c.trustAfter)})"
                + ("  [bold red]significant[/]" if c.significant else ""))
            lines.append(f"              Δ mean stability {escape(mean)}   "
                         f"Δ p95 {escape(p95)} ms")
        return "\n".join(lines)
    table = _table("image changes and what came with them", "window", "from → to", "trust",
                   "Δ mean stab. [95% CI]", "Δ p95 ms [95% CI]", "sig.")
    for c in summary.changes:
        mean, p95 = _intervals(c)
        table.add_row(escape(c.windowAfter[:16]),
                      escape(f"{short(c.digestBefore)} → {short(c.digestAfter)}"),
                      f"{status_text(c.trustBefore)} → {status_text(c.trustAfter)}",
                      escape(mean), escape(p95),
                      "[bold red]yes[/]" if c.significant else "no")
    return table


def breakdown_table(summary: TelemetrySummary) -> RenderableType:
    from rich.markup import escape

    table = _table("by backend and device", "group", "Sessions", "Records", "Mean stab.",
                   "p95 ms")
    for label, groups in (("backend", summary.breakdown.byBackend),
                          ("device", summary.breakdown.byDevice)):
        for g in groups:
            table.add_row(escape(f"{label}={g.key}"), str(g.sessionCount), str(g.recordCount),
                          fmt(g.meanStability), fmt(g.driftPercentile, 2))
    return table


def corrupt_view(summary: TelemetrySummary) -> RenderableType:
    from rich.markup import escape

    cf, ir = summary.corruptFiles, summary.invalidRecords
    lines = [f"[bold]corrupt inputs[/]: {cf.count} file(s), {ir.count} invalid record(s)"]
    for f in cf.files[:10]:
        lines.append(f"  [red]file[/]  {escape(f.path)}: {escape(f.reason)}")
    if cf.count > 10:
        lines.append(f"  … and {cf.count - 10} more files")
    for reason, count in ir.byReason.items():
        lines.append(f"  [yellow]{count:>6}[/]  {escape(reason)}")
    return "\n".join(lines)


def gpu_table(summary: TelemetrySummary) -> RenderableType:
    """AMD and NVIDIA cards in one table. NVIDIA reports one die temperature where AMD reports
    edge and junction, so the first temperature column is whichever the card has (marked)."""
    from rich.markup import escape

    table = _table(f"GPU ({summary.gpuMetrics.snapshotCount} snapshots; temperatures and VRAM "
                   "are maxima, power and use are means)", "card", "name", "Temp °C",
                   "Junct. °C", "W", "Limit W", "Use %", "VRAM GiB")
    for c in summary.gpuMetrics.cards:
        vram = None if c.maxVramUsedBytes is None else c.maxVramUsedBytes / 2**30
        temp = (fmt(c.maxTemperatureEdgeC, 0) if c.maxTemperatureEdgeC is not None
                else fmt(c.maxTemperatureGpuC, 0))
        total = "" if c.vramTotalBytes is None else f"/{c.vramTotalBytes / 2**30:.0f}"
        table.add_row(escape(c.card), escape(c.name or "—"), temp,
                      fmt(c.maxTemperatureJunctionC, 0), fmt(c.meanPowerW, 0),
                      fmt(c.powerLimitW, 0), fmt(c.meanGpuUsePercent, 0), fmt(vram, 1) + total)
    return table


def render(summary: TelemetrySummary, console: Console) -> None:
    """Print the full terminal view."""
    console.print(headline(summary))
    if summary.breakdown.byImage:
        console.print(images_table(summary, wide=console.width >= WIDE))
    console.print(timeline(summary))
    if summary.changes:
        console.print(changes_table(summary, wide=console.width >= WIDE_CHANGES))
    if summary.breakdown.byBackend or summary.breakdown.byDevice:
        console.print(breakdown_table(summary))
    console.print(corrupt_view(summary))
    if summary.gpuMetrics.cards:
        console.print(gpu_table(summary))


def compare_rows(a: TelemetrySummary, b: TelemetrySummary) -> list[dict[str, Any]]:
    """Headline metrics of two summaries with their differences (also the --json form)."""
    rows: list[dict[str, Any]] = []
    for key in ("sessionCount", "recordCount", "meanStability", "variance", "driftPercentile"):
        va, vb = getattr(a, key), getattr(b, key)
        delta = (vb - va) if isinstance(va, int | float) and isinstance(vb, int | float) else None
        rows.append({"metric": key, "a": va, "b": vb, "delta": delta})
    for key in ("trustStatus", "provenanceDigest", "corruptFiles", "invalidRecords"):
        va, vb = getattr(a, key), getattr(b, key)
        if key in ("corruptFiles", "invalidRecords"):
            va, vb = va.count, vb.count
        rows.append({"metric": key, "a": va, "b": vb,
                     "delta": (vb - va) if isinstance(va, int) else None})
    return rows


def render_compare(a: TelemetrySummary, b: TelemetrySummary, labels: tuple[str, str],
                   console: Console) -> None:
    from rich.markup import escape

    table = _table("summaries side by side", "metric", escape(labels[0]), escape(labels[1]),
                   "Δ")
    for row in compare_rows(a, b):
        def cell(v: Any) -> str:
            if isinstance(v, float):
                return f"{v:.6g}"
            return escape(str(v)) if v is not None else "—"
        delta = row["delta"]
        table.add_row(row["metric"], cell(row["a"]), cell(row["b"]),
                      "" if delta is None else f"{delta:+.6g}")
    console.print(table)
    for label, summary in zip(labels, (a, b), strict=True):
        windows = summary.breakdown.byWindow
        console.print(f"{escape(label)}: stability "
                      f"{sparkline([w.meanStability for w in windows])}  p95 "
                      f"{sparkline([w.driftPercentile for w in windows])}")
