"""Line plots as inline SVG for the HTML report: axes with "nice" ticks, gridlines, units chosen
for the data, and labels placed so that none is ever cut off.

Every size is computed in the SVG's own coordinates from the labels' lengths (a character is
taken as 0.62 em, generous for the system sans-serif), so a long tick label widens the margin
instead of running off the edge, and a marker label near the right edge is anchored at its end.
Colours are CSS classes, so the report's dark mode recolours the plots too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from html import escape

from clamp.telemetry.numfmt import MINUS, duration_unit

FONT = 13.0
LABEL_FONT = 11.0  # marker labels (the stylesheet's svg text.marker-label)
CHAR = 0.62 * FONT  # width of one label character, an upper bound for digits and dates


@dataclass(frozen=True)
class Marker:
    """A vertical dashed line at window `index`: an image change, coloured by trust status."""

    index: int
    status: str
    label: str
    title: str


@dataclass(frozen=True)
class Axis:
    """How values are shown: unit suffix for the axis title, and the scale applied first."""

    title: str
    scale: float = 1.0
    #: The highest value the quantity can take (stability: 1), which no tick passes.
    upper: float | None = None


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 × 10^k apart) covering [lo, hi]; a flat series gets a
    small band around its value."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    # Flat: a spread below a millionth of the values' size (or of 1) has no ticks worth drawing
    # (and steps that small would not survive the 12-digit labels).
    if hi - lo <= 1e-6 * max(1.0, abs(hi), abs(lo)):
        pad = abs(hi) * 0.05 if abs(hi) >= 1e-6 else 0.5
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, target)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step)
    if float(f"{first * step:.12g}") > lo:  # lo / step underflowed to -0.0, or rounding lifted it
        first -= 1
    ticks: list[float] = []
    k = first
    while len(ticks) < 50:
        value = float(f"{k * step:.12g}")  # 0.30000000000000004 -> 0.3
        ticks.append(value)
        if value >= hi:
            break
        k += 1
    return ticks if len(ticks) > 1 else [*ticks, float(f"{(k + 1) * step:.12g}")]


def tick_decimals(ticks: list[float]) -> int:
    """Decimals the tick step needs, no more (0.85, 0.90 -> 2; 40, 60 -> 0)."""
    if len(ticks) < 2:
        return 2
    step = abs(ticks[1] - ticks[0])
    for d in range(0, 7):
        if abs(round(step, d) - step) < step * 1e-6:
            return d
    return 6


def duration_axis(values: list[float | None]) -> Axis:
    """Milliseconds, or the unit the largest value needs (seconds past 10 s, minutes past
    10 min, hours past 10 h), as the figures elsewhere in the report."""
    top = max((abs(v) for v in values if v is not None), default=0.0)
    unit, scale = duration_unit(top)
    return Axis(f"p95 duration ({unit})", 1 / scale)


def _date_label(start: str, span_days: float, days: bool = False) -> str:
    """A window start as the x axis shows it: "Mar 05" for day-scale windows (`days`: every
    window starts at midnight, so an hour would say nothing), with the hour for shorter ones,
    with the year when the data spans more than a year."""
    try:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        return start[:10]
    if span_days > 366:
        return moment.strftime("%Y-%m-%d")
    if span_days >= 3 or days:
        return moment.strftime("%b %d")
    return moment.strftime("%b %d %H:%M" if span_days == 0 else "%d %H:%M")


def _midnights(starts: list[str]) -> bool:
    """True when every window starts at 00:00 (day or week windows)."""
    return bool(starts) and all(s[11:16] in ("", "00:00") for s in starts)


def _text_width(text: str) -> float:
    return len(text) * CHAR


def line_plot(plot_id: str, title: str, values: list[float | None], starts: list[str],
              markers: list[Marker], axis: Axis, *, width: int, height: int = 260,
              css_class: str = "") -> str:
    """One plot as an `<svg>` element (scales to its container, keeps its aspect ratio)."""
    scaled = [None if v is None else v * axis.scale for v in values]
    present = [v for v in scaled if v is not None]
    head = (f'<svg id="{plot_id}" class="plot {css_class}" role="img" '
            f'aria-labelledby="{plot_id}-title" viewBox="0 0 {width} {height}" '
            f'xmlns="http://www.w3.org/2000/svg"><title id="{plot_id}-title">{escape(title)}'
            f"</title>")
    if not present:
        return head + f'<text class="axis" x="{width / 2}" y="{height / 2}" ' \
                      f'text-anchor="middle">no data</text></svg>'
    lo_v, hi_v = min(present), max(present)
    if axis.upper is not None and hi_v >= axis.upper and hi_v - lo_v < 0.05 * axis.upper:
        # Flat at the top (every stability 1.0, as the origin's anchors record): a band below
        # the bound, not one around it with ticks at values that cannot occur.
        lo_v = axis.upper * 0.9
    ticks = [t for t in nice_ticks(lo_v, hi_v)
             if axis.upper is None or t <= axis.upper + 1e-12]
    decimals = tick_decimals(ticks)

    def label(v: float) -> str:
        return f"{v:.{decimals}f}".replace("-", MINUS)

    lo, hi = ticks[0], ticks[-1]
    left = 10 + max(_text_width(label(t)) for t in ticks) + 8
    bottom, right = 44.0, 14.0
    # Room at the right for the last date label, centred under its point.
    n = len(values)
    span_days = _span_days(starts)
    days = _midnights(starts)
    dates = [_date_label(s, span_days, days) for s in starts]
    right = max(right, _text_width(dates[-1]) / 2 + 4) if dates else right
    left = max(left, _text_width(dates[0]) / 2 + 4) if dates else left
    plot_w = width - left - right

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    # The axis title on the top line; below it the rows of marker labels, each starting at its
    # line's x and in its colour, then the plot, where the dashed lines start (a line drawn up
    # to a higher row would cross the labels below it).
    placed = place_labels([(x(m.index), _text_width(m.label) * LABEL_FONT / FONT)
                           for m in markers],
                          left, width - 2)
    rows = 1 + max((row for row, _ in placed if row is not None), default=0)
    top = TITLE_Y + rows * ROW + 4
    plot_h = height - top - bottom

    def y(v: float) -> float:
        return top + plot_h - (v - lo) / ((hi - lo) or 1.0) * plot_h

    parts = [head, f'<text class="axis-title" x="{left:.1f}" y="{TITLE_Y:.1f}">'
                   f"{escape(axis.title)}</text>"]
    for t in ticks:
        parts.append(f'<line class="grid" x1="{left:.1f}" x2="{width - right:.1f}" '
                     f'y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
                     f'<text class="tick" x="{left - 8:.1f}" y="{y(t) + FONT / 3:.1f}" '
                     f'text-anchor="end">{label(t)}</text>')
    # x ticks: as many dates as fit without touching (every k-th window).
    room = max(_text_width(d) for d in dates) + 12
    every = max(1, math.ceil(room / (plot_w / max(1, n - 1)))) if n > 1 else 1
    shown = list(range(0, n, every))
    if n - 1 not in shown and (n - 1 - shown[-1]) * plot_w / max(1, n - 1) >= room:
        shown.append(n - 1)
    for i in shown:
        parts.append(f'<line class="axis" x1="{x(i):.1f}" x2="{x(i):.1f}" '
                     f'y1="{top + plot_h:.1f}" y2="{top + plot_h + 5:.1f}"/>'
                     f'<text class="tick" x="{x(i):.1f}" y="{top + plot_h + 20:.1f}" '
                     f'text-anchor="middle">{escape(dates[i])}</text>')
    parts.append(f'<line class="axis" x1="{left:.1f}" x2="{width - right:.1f}" '
                 f'y1="{top + plot_h:.1f}" y2="{top + plot_h:.1f}"/>')
    for m, (row, anchor) in zip(markers, placed, strict=True):
        status = m.status if m.status in ("valid", "unknown") else "bad"
        mx = x(m.index)
        label_y = top - 4 - (row or 0) * ROW
        parts.append(
            f'<line class="digest-change trust-{status}" data-trust="{escape(m.status)}" '
            f'x1="{mx:.1f}" x2="{mx:.1f}" y1="{top - 2:.1f}" y2="{top + plot_h:.1f}" '
            f'stroke-dasharray="5 4"><title>{escape(m.title)}</title></line>')
        if row is not None:
            tx = mx - 4 if anchor == "end" else mx + 4
            parts.append(
                f'<text class="marker-label trust-{status}" x="{tx:.1f}" y="{label_y:.1f}" '
                f'text-anchor="{anchor}">{escape(m.label)}'
                "</text>")
    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(scaled) if v is not None)
    parts.append(f'<polyline class="series" fill="none" stroke-width="2" points="{points}"/>')
    for i, v in enumerate(scaled):
        if v is not None:
            parts.append(f'<circle class="point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5">'
                         f"<title>{escape(starts[i][:16])}: {label(v)}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


#: Height of one row of marker labels above the plot, and how many rows there may be.
ROW = 16.0
MAX_ROWS = 3
TITLE_Y = 16.0  # baseline of the axis title
GAP = 8.0


def place_labels(markers: list[tuple[float, float]], lo: float,
                 hi: float) -> list[tuple[int | None, str]]:
    """(row, anchor) for each marker label given its line's x and its width: the label goes
    right of its line ("start"), or left ("end") where it would pass `hi`, in the first row
    where it touches no other label. One that fits no row within MAX_ROWS is left out (None):
    its dashed line stays, with its title, and the verdict list names every change."""
    taken: list[list[tuple[float, float]]] = [[] for _ in range(MAX_ROWS)]
    out: list[tuple[int | None, str]] = []
    for mx, w in markers:
        spans = [("start", mx + 4, mx + 4 + w), ("end", mx - 4 - w, mx - 4)]
        spans = [sp for sp in spans if sp[1] >= lo - 0.5 and sp[2] <= hi + 0.5] or spans[1:]
        choice: tuple[int | None, str] = (None, spans[0][0])
        for row, used in enumerate(taken):
            free = next((sp for sp in spans if all(sp[2] + GAP <= a or b + GAP <= sp[1]
                                                   for a, b in used)), None)
            if free is not None:
                used.append((free[1], free[2]))
                choice = (row, free[0])
                break
        out.append(choice)
    return out


def _span_days(starts: list[str]) -> float:
    try:
        first = datetime.fromisoformat(starts[0].replace("Z", "+00:00"))
        last = datetime.fromisoformat(starts[-1].replace("Z", "+00:00"))
    except (ValueError, IndexError):
        return 0.0
    return (last - first).total_seconds() / 86400

