"""Two or more summaries side by side in the terminal (`clamp telemetry inspect --compare`).

Apart from `inspect_view` because comparing is its own idea: the one-summary view shows what a
summary holds, this shows how summaries differ (a `--compare FILE` table of headline metrics with
their differences, and the origin's `--compare GLOB` table against a baseline). Like the view, it
computes no statistics beyond the differences of numbers the summaries already hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clamp.telemetry import numfmt
from clamp.telemetry.inspect_view import WIDE, plain_table, short, sparkline, status_text
from clamp.telemetry.models import TelemetrySummary

if TYPE_CHECKING:
    from rich.console import Console


def compare_rows(a: TelemetrySummary, b: TelemetrySummary) -> list[dict[str, Any]]:
    """Headline metrics of two summaries with their differences (also the --json form)."""
    rows: list[dict[str, Any]] = []
    for key in ("sessionFileCount", "sessionCount", "recordCount", "meanStability", "variance",
                "driftPercentile", "durationP95"):
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


_COUNTS = ("sessionFileCount", "sessionCount", "recordCount", "corruptFiles", "invalidRecords")
_DURATIONS = ("driftPercentile", "durationP95")


def compare_cell(metric: str, value: Any) -> str:
    """One value of the comparison as the rest of the view shows it: counts as integers,
    stability to 3 decimals, p95 with its unit, digests short and whole."""
    if value is None:
        return "—"
    if metric in _COUNTS:
        return numfmt.count(value)
    if metric == "meanStability":
        return numfmt.stability(value)
    if metric == "variance":
        return numfmt.variance(value)
    if metric in _DURATIONS:
        return numfmt.ms(value)
    if metric == "provenanceDigest":
        return short(value)
    return str(value)


def compare_delta(metric: str, delta: Any) -> str:
    """A difference, signed: counts as integers, the rest to the precision of its metric."""
    if delta is None:
        return ""
    if metric in _COUNTS:
        return f"{round(delta):+,}".replace("-", numfmt.MINUS)
    if metric in _DURATIONS:
        return numfmt.ms(delta, signed=True)
    if metric == "meanStability":
        return f"{delta:+.3f}".replace("-", numfmt.MINUS)
    decimals = numfmt.decimals_for(abs(delta), significant=2) if delta else 0
    return f"{delta:+.{decimals}f}".replace("-", numfmt.MINUS)


def render_compare(a: TelemetrySummary, b: TelemetrySummary, labels: tuple[str, str],
                   console: Console) -> None:
    from rich.markup import escape

    table = plain_table("summaries side by side", "metric", escape(labels[0]),
                        escape(labels[1]), "Δ")
    for column in table.columns[1:3]:
        column.no_wrap, column.overflow = False, "fold"  # paths may fold; values never do
    for row in compare_rows(a, b):
        metric = row["metric"]
        table.add_row(metric, escape(compare_cell(metric, row["a"])),
                      escape(compare_cell(metric, row["b"])), compare_delta(metric, row["delta"]))
    console.print(table, soft_wrap=False)
    for label, summary in zip(labels, (a, b), strict=True):
        windows = summary.breakdown.byWindow
        console.print(f"{escape(label)}: stability "
                      f"{sparkline([w.meanStability for w in windows])}  p95 "
                      f"{sparkline([w.driftPercentile for w in windows])}", soft_wrap=False)


def multi_compare_rows(named: list[tuple[str, TelemetrySummary]]) -> list[dict[str, Any]]:
    """The origin's `--compare GLOB`: each summary against the first (the baseline)."""
    base = named[0][1]
    rows = []
    for label, s in named:
        ratio = (s.variance / base.variance) if base.variance else None
        rows.append({"summary": label, "backend": s.backend, "device": s.deviceName,
                     "meanStability": s.meanStability,
                     "meanDelta": s.meanStability - base.meanStability,
                     "driftPercentile": s.driftPercentile,
                     "driftDelta": s.driftPercentile - base.driftPercentile,
                     "variance": s.variance, "varianceRatio": ratio,
                     "trustStatus": s.trustStatus})
    return rows


def render_multi_compare(named: list[tuple[str, TelemetrySummary]], console: Console) -> None:
    """The glob comparison, numbers as everywhere else (stability to 3 decimals, p95 with its
    unit, variance to 2 significant figures). Below `WIDE` columns the backend/device and trust
    go under the summary's path, which folds; the numbers never do."""
    from rich.markup import escape

    wide = console.width >= WIDE
    columns = (["summary", "backend/device", "Mean", "Δ mean", "Drift p95", "Δ drift", "Var",
                "Var ×", "trust"] if wide else
               ["summary", "Mean", "Δ mean", "Drift p95", "Δ drift", "Var", "Var ×"])
    table = plain_table(f"comparison (baseline: {escape(named[0][0])})", *columns)
    table.columns[0].no_wrap, table.columns[0].overflow = False, "fold"
    for row in multi_compare_rows(named):
        ratio = row["varianceRatio"]
        where = escape(f"{row['backend']}/{row['device']}")
        label = escape(row["summary"])
        numbers = [numfmt.stability(row["meanStability"]),
                   compare_delta("meanStability", row["meanDelta"]),
                   numfmt.ms(row["driftPercentile"]),
                   compare_delta("driftPercentile", row["driftDelta"]),
                   numfmt.variance(row["variance"]), "—" if ratio is None else f"{ratio:.2f}"]
        if wide:
            table.add_row(label, where, *numbers, status_text(row["trustStatus"]))
        else:
            table.add_row(f"{label}\n[dim]{where}[/] {status_text(row['trustStatus'])}",
                          *numbers)
    console.print(table, soft_wrap=False)
