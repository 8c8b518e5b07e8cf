"""The terminal view of a summary (rich): what ran, was it trusted, did stability change.

Layout, top to bottom: the headline with the current image's trust status; each image's trust
beside its stability; sparklines of mean stability and p95 duration per window with markers where
the image changed; the attributed changes; breakdowns; corrupt inputs; GPU readings. (Summaries
side by side are `inspect_compare`'s.) Nothing here computes statistics: it only shows what the
summary holds, so the terminal and the JSON can never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clamp.telemetry import numfmt
from clamp.telemetry.models import (
    MIN_VERDICT_RECORDS,
    Change,
    ImageGroup,
    LostGpu,
    Stats,
    TelemetrySummary,
)

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
    """`sha256:` and 12 hex digits (`numfmt.short_digest`): never cut further."""
    return numfmt.short_digest(digest)


def image_label(digest: str | None, images: dict[str | None, ImageGroup]) -> str:
    """The short digest with the image's tag after it, when the evidence names one."""
    img = images.get(digest)
    tag = numfmt.image_tag(img.image if img else None)
    return short(digest) + (f" {tag}" if tag else "")


def signer_text(img: ImageGroup | None) -> str:
    """Who signed an image (the certificate identity) and the issuer that vouched for it."""
    from rich.markup import escape

    if img is None:
        return "—"
    ev = img.evidence
    who = escape(ev.provenanceIdentity or "identity not recorded")
    return who + (f" [dim]({escape(ev.provenanceIssuer)})[/]" if ev.provenanceIssuer else "")


def status_text(status: str) -> str:
    from rich.markup import escape

    return f"[{_STATUS_STYLE.get(status, 'red')}]{escape(status)}[/]"


#: Below this console width the images table leaves out issuer and variance (the headline and
#: the JSON still have them) so that trust and stability stay readable on an 80-column terminal.
WIDE = 110
#: The changes table needs this much; below it each change is two lines of text instead.
WIDE_CHANGES = 140


def plain_table(title: str, *columns: str) -> Table:
    """A plain table; columns named with a capital are numeric and right-aligned, and neither
    they nor the first column wrap (a number or digest split over lines misleads)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for i, column in enumerate(columns):
        numeric = column[:1].isupper()
        # Text columns fold a word too long for them (a signer URL) rather than cut it to "…".
        table.add_column(column, justify="right" if numeric else "left",
                         no_wrap=i == 0 or numeric, overflow="fold")
    return table


def headline(summary: TelemetrySummary) -> RenderableType:
    from rich.console import Group as Lines
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    s = summary
    images = {img.digest: img for img in s.breakdown.byImage}
    current = images.get(s.provenanceDigest)
    ev = current.evidence if current else None
    rows = [
        ("source", escape(s.sourceDirectory)),
        ("sessions", f"{numfmt.count(s.sessionFileCount)}    records "
                     f"{numfmt.count(s.recordCount)}    window {escape(s.window)}"),
        ("stability", f"mean {numfmt.stability(s.mean)}   variance "
                      f"{numfmt.variance(s.variance if s.recordCount else None)}"),
        ("duration p95", numfmt.ms(s.p95)),
        ("trust", status_text(s.trustStatus)),
        ("image", escape(image_label(s.provenanceDigest, images))),
        ("signer", escape(ev.provenanceIdentity or "identity not recorded") if ev else "—"),
        ("issuer", escape(s.provenanceIssuer or "—")),
        ("signed at", f"{escape(s.provenanceTimestamp or '—')}   algorithm "
                      f"{escape(s.digestAlgorithm or '—')}"),
        ("decision", escape(s.policyDecision or "—")),
    ]
    # A grid, so a value longer than the line (a signer URL) folds under itself, never cropped.
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, min_width=12)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    body: RenderableType = grid
    if s.untrustedSessions:
        body = Lines(grid, f"[red]{len(s.untrustedSessions)} session(s) ran untrusted images[/]")
    return Panel(body, title="telemetry summary", expand=False)


def images_table(summary: TelemetrySummary, wide: bool = True) -> RenderableType:
    """Each image's trust beside its stability, its tag under its digest; `wide` adds the signer
    and variance (narrow, the signers follow the table as lines of their own)."""
    from rich.console import Group as Lines
    from rich.markup import escape

    columns = ["image", "trust", "signer", "Sessions", "Records", "Mean stab.", "Variance",
               "p95"]
    if not wide:
        # Narrow, the trust status goes under the digest and tag: a long one
        # ("identity_mismatch") beside them left the numbers too little room (rich then
        # squeezed p95 into a column one character wide).
        columns = ["image", "Sessions", "Records", "Mean stab.", "p95"]
    table = plain_table("images: trust beside stability", *columns)
    if wide:
        table.columns[1].no_wrap = True
    else:
        # The digest (19 characters) stays whole; a tag longer than the room left folds.
        table.columns[0].no_wrap, table.columns[0].min_width = False, 19

    def row(label: str, status: str, signer: str, stats: Stats) -> None:
        if not wide and status:
            label += "\n" + status
        cells = {"image": label, "trust": status, "signer": signer,
                 "Sessions": numfmt.count(stats.sessionCount),
                 "Records": numfmt.count(stats.recordCount),
                 "Mean stab.": numfmt.stability(stats.meanStability),
                 "Variance": numfmt.variance(stats.variance),
                 "p95": numfmt.ms(stats.driftPercentile)}
        table.add_row(*(cells[c] for c in columns))

    signers = []
    for img in summary.breakdown.byImage:
        tag = numfmt.image_tag(img.image)
        label = escape(short(img.digest)) + (f"\n[dim]{escape(tag)}[/]" if tag else "")
        row(label, status_text(img.evidence.trustStatus), signer_text(img), img)
        signers.append((escape(short(img.digest)), signer_text(img)))
    for name, stats in (("trusted", summary.trusted), ("untrusted", summary.untrusted),
                        ("unverified", summary.unverified)):
        if stats.recordCount:
            row(f"[dim]all {name}[/]", "", "", stats)
    if wide or not signers:
        return table
    return Lines(table, "[bold]signers[/]", hanging(signers, indent=2))


def hanging(rows: list[tuple[str, str]], indent: int) -> RenderableType:
    """Label-and-text lines whose text folds under itself (not back to column 0) when it is
    longer than the line: a signer identity is a long URL without spaces."""
    from rich.padding import Padding
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for label, text in rows:
        grid.add_row(label, text)
    return Padding(grid, (0, 0, 0, indent))


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


_VERDICT_STYLE = {"regressed": "bold red", "improved": "bold green"}


def verdict_text(verdict: str) -> str:
    from rich.markup import escape

    return f"[{_VERDICT_STYLE.get(verdict, 'dim')}]{escape(verdict.upper())}[/]"


def _intervals(c: Change) -> tuple[str, str]:
    """The like-with-like shifts with their 95% intervals, rounded to the interval."""
    return (numfmt.shift(c.adjustedMeanStabilityShift, c.adjustedMeanStabilityShiftCI),
            numfmt.shift(c.adjustedP95DurationShift, c.adjustedP95DurationShiftCI, unit="ms"))


def changes_table(summary: TelemetrySummary, wide: bool = True) -> RenderableType:
    """The attributed image changes, each with its verdict: a table when wide, a few short
    lines per change when narrow (each under 80 columns, numbers and digests whole)."""
    from rich.markup import escape

    images = {img.digest: img for img in summary.breakdown.byImage}
    note = ("[dim]Δ: compared within each backend and device, then combined; a changed "
            "mix is not read as the image's effect[/]")
    from rich.console import Group as Lines

    if not wide:
        parts: list[RenderableType] = ["[bold]image changes and what came with them[/]"]
        lines: list[str] = []
        for c in summary.changes:
            mean, p95 = _intervals(c)
            lines += [
                f"  {escape(c.windowAfter[:10])}  {verdict_text(c.verdict)}",
                *([f"    [dim]{numfmt.too_few(*c.compared_records(), MIN_VERDICT_RECORDS)}[/]"]
                  if c.strata and c.too_few_records() else []),
                f"    {escape(image_label(c.digestBefore, images))} "
                f"({status_text(c.trustBefore)})",
                f"    → {escape(image_label(c.digestAfter, images))} "
                f"({status_text(c.trustAfter)})",
                f"    Δ mean stability {escape(mean)}",
                f"    Δ p95 duration   {escape(p95)}"]
            parts += ["\n".join(lines), hanging(
                [("signer", signer_text(images.get(c.digestAfter)))], indent=4)]
            lines = []
        return Lines(*parts, note)

    table = plain_table("image changes and what came with them", "window", "from → to",
                        "trust", "verdict", "Δ mean stab. [95% CI]", "Δ p95 [95% CI]")
    for c in summary.changes:
        mean, p95 = _intervals(c)
        table.add_row(escape(c.windowAfter[:10]),
                      escape(f"{image_label(c.digestBefore, images)} → "
                             f"{image_label(c.digestAfter, images)}"),
                      f"{status_text(c.trustBefore)} → {status_text(c.trustAfter)}",
                      verdict_text(c.verdict) + ("\n[dim]too few records[/]"
                                                 if c.strata and c.too_few_records() else ""),
                      escape(mean), escape(p95))
    return Lines(table, note)


def breakdown_table(summary: TelemetrySummary) -> RenderableType:
    from rich.markup import escape

    table = plain_table("by backend and device", "group", "Sessions", "Records",
                        "Mean stab.", "p95")
    for label, groups in (("backend", summary.breakdown.byBackend),
                          ("device", summary.breakdown.byDevice)):
        for g in groups:
            table.add_row(escape(f"{label}={g.key}"), numfmt.count(g.sessionCount),
                          numfmt.count(g.recordCount), numfmt.stability(g.meanStability),
                          numfmt.ms(g.driftPercentile))
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

    table = plain_table(f"GPU ({summary.gpuMetrics.snapshotCount} snapshots; temperatures and "
                        "VRAM are maxima, power and use are means)", "card", "name", "Temp °C",
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


def lost_line(gpu: LostGpu) -> str:
    """A GPU the snapshot's tool could not reach: said, so a missing card is not read as idle."""
    from rich.markup import escape

    return f"[red]lost GPU[/] {escape(gpu.gpu)} in {escape(gpu.path)}: {escape(gpu.reason)}"


def render(summary: TelemetrySummary, console: Console) -> None:
    """Print the full terminal view. Every part is laid out for the console's width
    (`soft_wrap=False`): clamp's stdout console soft-wraps by default, which would leave a long
    line to the terminal to break anywhere, or to a log viewer not to break at all."""
    parts = [headline(summary)]
    if summary.breakdown.byImage:
        parts.append(images_table(summary, wide=console.width >= WIDE))
    parts.append(timeline(summary))
    if summary.changes:
        parts.append(changes_table(summary, wide=console.width >= WIDE_CHANGES))
    elif summary.breakdown.byWindow:  # said, as the report says it: one image ran throughout
        parts.append("[bold]image changes[/]: none between windows")
    if summary.breakdown.byBackend or summary.breakdown.byDevice:
        parts.append(breakdown_table(summary))
    parts.append(corrupt_view(summary))
    if summary.gpuMetrics.cards:
        parts.append(gpu_table(summary))
    parts += [lost_line(g) for g in summary.gpuMetrics.lostGpus[:10]]
    for part in parts:
        console.print(part, soft_wrap=False)


def sessions_table(summary: TelemetrySummary) -> RenderableType:
    """Per session file, as the origin's `--sessions` listed them: backend, device, mean, count
    (records) and p95 duration."""
    from rich.markup import escape

    table = plain_table("session breakdown", "session", "backend | device", "Mean",
                        "Records", "p95", "trust")
    table.columns[0].no_wrap, table.columns[0].overflow = False, "fold"
    for row in summary.breakdown.bySession:
        if not row.recordCount:
            continue
        table.add_row(escape(row.path),
                      escape(f"{row.backend or 'unknown'} | {row.device or 'unspecified'}"),
                      numfmt.stability(row.meanStability), numfmt.count(row.recordCount),
                      numfmt.ms(row.driftPercentile),
                      status_text(row.trustStatus))
    if not table.row_count:
        return "No per-session telemetry detected."
    return table
