"""Numbers, digests and image names as a reader should see them, shared by the terminal view,
the HTML report and the GitHub job summary so the three never disagree.

Precision follows the data rather than a fixed "4 decimals": a duration gets the decimals its
size needs (12.3 ms, 148 ms, 12.4 s), a shift gets the decimals that show its 95% interval to two
the first significant figure of its half-width (a shift of −0.0602 ± 0.008 prints as −0.060 and
a p95 shift of +12.1 ± 6 ms as +12), and counts
are integers with thousands separators.
"""

from __future__ import annotations

import math

DASH = "—"
MINUS = "−"  # typographic minus: the same width as "+", so signed columns line up


def count(value: int | float | None) -> str:
    """An integer count with thousands separators ("12,345")."""
    if value is None:
        return DASH
    return f"{round(value):,}"


def _signed(text: str) -> str:
    return text.replace("-", MINUS)


def decimals_for(spread: float, significant: int = 1) -> int:
    """Decimals that show a quantity of size `spread` to `significant` figures (0..6)."""
    if not math.isfinite(spread) or spread <= 0:
        return 3
    return max(0, min(6, significant - 1 - math.floor(math.log10(spread))))


def stability(value: float | None) -> str:
    """A stability score in [0, 1]: three decimals are what a run-to-run difference needs."""
    return DASH if value is None else f"{value:.3f}"


def variance(value: float | None) -> str:
    """A variance to two significant figures (0.0029): its digits past that are noise."""
    return DASH if value is None else f"{value:.2g}"


def ms(value: float | None, *, signed: bool = False, decimals: int | None = None) -> str:
    """A duration in milliseconds with its unit, precision by size (or `decimals`)."""
    if value is None:
        return DASH
    sign = "+" if signed else ""
    size = abs(value)
    if size >= 10_000 and decimals is None:
        return _signed(f"{value / 1000:{sign}.1f} s")
    if decimals is None:
        decimals = 0 if size >= 100 else 1 if size >= 10 else 2
    return _signed(f"{value:{sign}.{decimals}f} ms")


def shift(value: float | None, ci: list[float] | None, *, unit: str = "") -> str:
    """A signed shift and its 95% interval, both rounded where the interval's half-width has
    its first significant digit: "−0.060 [−0.068, −0.052]", "+12 [+5, +17] ms"."""
    if value is None:
        return DASH
    spread = (ci[1] - ci[0]) / 2 if ci else abs(value)
    d = decimals_for(spread)
    text = f"{value:+.{d}f}"
    if ci:
        text += f" [{ci[0]:+.{d}f}, {ci[1]:+.{d}f}]"
    return _signed(text + (f" {unit}" if unit else ""))


def too_few(before: int, after: int, needed: int) -> str:
    """Why an image change has no verdict although its intervals may exclude zero."""
    return (f"too few records for a verdict ({count(before)} before, {count(after)} after; "
            f"{count(needed)} a side needed)")


def percent(value: float | None, decimals: int = 0) -> str:
    return DASH if value is None else f"{100 * value:.{decimals}f}%"


def short_digest(digest: str | None, length: int = 12) -> str:
    """`sha256:` and the first 12 hex digits: enough to tell images apart, never cut further."""
    if not digest:
        return "(none)"
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:length]}"


def image_tag(image: str | None) -> str | None:
    """The last path part of an image reference with its tag ("dev:6.4.4-ubuntu-22.04") from
    "ghcr.io/rocm/dev:6.4.4-ubuntu-22.04@sha256:…"; None when there is no tag to show."""
    if not image:
        return None
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name if ":" in name else None
