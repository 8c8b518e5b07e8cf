"""Numbers, digests and image names as a reader should see them, shared by the terminal view,
the HTML report and the GitHub job summary so the three never disagree.

Precision follows the data rather than a fixed "4 decimals": a duration gets the unit and the
decimals its size needs (12.3 ms, 148 ms, 12.4 s, 359 min), a shift gets the decimals that show
the first significant figure of its interval's half-width (a shift of −0.0602 ± 0.008 prints as
−0.060 and a p95 shift of +12.1 ± 6 ms as +12; one that rounds to zero has no sign), and counts
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


#: Duration units past milliseconds: (name, milliseconds, from how many milliseconds on).
#: A unit takes over once a value is ten of it, so a number never needs more than 3-4 digits.
_UNITS = (("s", 1_000.0, 10_000.0), ("min", 60_000.0, 600_000.0),
          ("h", 3_600_000.0, 36_000_000.0))


def duration_unit(size_ms: float) -> tuple[str, float]:
    """The unit a duration of this size (in ms) is shown in, and its size in milliseconds."""
    name, scale = "ms", 1.0
    for unit, unit_ms, from_ms in _UNITS:
        if size_ms >= from_ms:
            name, scale = unit, unit_ms
    return name, scale


def ms(value: float | None, *, signed: bool = False, decimals: int | None = None) -> str:
    """A duration in milliseconds with its unit, precision by size (or `decimals`): 0.12 ms,
    12.3 ms, 148 ms, 12.3 s, 359 min, 12.5 h."""
    if value is None:
        return DASH
    sign = "+" if signed else ""
    size = abs(value)
    unit, scale = duration_unit(size) if decimals is None else ("ms", 1.0)
    if unit != "ms":
        scaled = value / scale
        return _signed(f"{scaled:{sign}.{1 if abs(scaled) < 100 else 0}f} {unit}")
    if decimals is None:
        decimals = 0 if size >= 100 else 1 if size >= 10 else 2
    return _signed(f"{value:{sign}.{decimals}f} ms")


def _rounded(value: float, decimals: int) -> str:
    """Signed to `decimals`; a value that rounds to zero gets no sign ("0.000", not "−0.000")."""
    text = f"{value:+.{decimals}f}"
    return text[1:] if float(text) == 0 else text


def shift(value: float | None, ci: list[float] | None, *, unit: str = "") -> str:
    """A signed shift and its 95% interval, both rounded where the interval's half-width has
    its first significant digit: "−0.060 [−0.068, −0.052]", "+12 [+5, +17] ms". A duration
    shift (unit "ms") is shown in the unit its largest figure needs ("+35 [−21, +168] min")."""
    if value is None:
        return DASH
    if unit == "ms":
        unit, scale = duration_unit(max(abs(v) for v in [value, *(ci or [])]))
        value, ci = value / scale, [c / scale for c in ci] if ci else None
    spread = (ci[1] - ci[0]) / 2 if ci else abs(value)
    d = decimals_for(spread)
    text = _rounded(value, d)
    if ci:
        text += f" [{_rounded(ci[0], d)}, {_rounded(ci[1], d)}]"
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
