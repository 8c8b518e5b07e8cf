"""Numbers as readers see them (terminal, HTML, job summary) and the plots' axis ticks."""

from __future__ import annotations

import math
import re
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from clamp.telemetry import numfmt
from clamp.telemetry.html_plot import duration_axis, nice_ticks, tick_decimals


def test_durations_get_the_precision_their_size_needs() -> None:
    assert numfmt.ms(0.123456) == "0.12 ms" and numfmt.ms(12.3456) == "12.3 ms"
    assert numfmt.ms(148.23) == "148 ms" and numfmt.ms(12_345.0) == "12.3 s"
    assert numfmt.ms(None) == "—" and numfmt.ms(-3.0, signed=True) == "−3.00 ms"


def test_shifts_are_rounded_to_their_interval() -> None:
    assert numfmt.shift(-0.060208, [-0.068186, -0.052230]) == "−0.060 [−0.068, −0.052]"
    assert numfmt.shift(12.11, [5.41, 17.32], unit="ms") == "+12 [+5, +17] ms"
    assert numfmt.shift(0.5, None) == "+0.5" and numfmt.shift(None, None) == "—"


def test_counts_are_integers() -> None:
    assert numfmt.count(1234567) == "1,234,567" and numfmt.count(3.0) == "3"


def test_image_tags() -> None:
    assert numfmt.image_tag("ghcr.io/rocm/dev:6.4.4-ubuntu-22.04@sha256:" + "a" * 64) == \
        "dev:6.4.4-ubuntu-22.04"
    assert numfmt.image_tag("registry:5000/rocm/dev@sha256:" + "a" * 64) is None
    assert numfmt.image_tag(None) is None
    assert numfmt.short_digest("sha256:" + "ab" * 32) == "sha256:abababababab"


@given(st.floats(-1e6, 1e6), st.floats(0, 1e6))
def test_ticks_cover_the_data_evenly(lo: float, span: float) -> None:
    hi = lo + span
    ticks = nice_ticks(lo, hi)
    assert ticks[0] <= lo and ticks[-1] >= hi and 2 <= len(ticks) <= 50
    steps = {round(b - a, 9) for a, b in pairwise(ticks)}
    assert max(steps) - min(steps) <= 1e-6 * max(steps)
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 2.5, 5, 10))


def test_tick_labels_need_no_more_decimals_than_the_step() -> None:
    assert tick_decimals(nice_ticks(0.8, 0.95)) == 2
    assert tick_decimals(nice_ticks(40, 90)) == 0
    assert tick_decimals([0.0, 0.25, 0.5]) == 2


def test_duration_axis_switches_to_seconds() -> None:
    assert duration_axis([50.0, 90.0]).title == "p95 duration (ms)"
    axis = duration_axis([12_000.0, None])
    assert axis.title == "p95 duration (s)" and axis.scale == 1 / 1000


def test_long_durations_get_a_unit_of_their_size() -> None:
    # Six hours was "21554.5 s"; a p95 shift of hours was "+2101398 [−1255399, +10106101] ms".
    assert numfmt.ms(21_554_500.0) == "359 min" and numfmt.ms(90_000.0) == "90.0 s"
    assert numfmt.ms(3_600_000.0 * 12.5) == "12.5 h" and numfmt.ms(599_000.0) == "599 s"
    assert numfmt.ms(-21_549_600.0, signed=True) == "−359 min"
    assert numfmt.shift(2_101_398.0, [-1_255_399.0, 10_106_101.0], unit="ms") == \
        "+35 [−21, +168] min"
    assert numfmt.shift(12_000.0, [9_000.0, 15_000.0], unit="ms") == "+12 [+9, +15] s"
    assert duration_axis([3_600_000.0 * 20]).title == "p95 duration (h)"
    assert duration_axis([1_200_000.0]).title == "p95 duration (min)"


def test_a_shift_that_rounds_to_zero_has_no_sign() -> None:
    # "−0 [−10, +4] ms" read as a (tiny) drop.
    assert numfmt.shift(-0.3, [-10.2, 4.1], unit="ms") == "0 [−10, +4] ms"
    assert numfmt.shift(0.0002, [-0.0001, 0.009]) == "0.000 [0.000, +0.009]"


def test_a_flat_stability_of_one_has_no_tick_above_one() -> None:
    from clamp.telemetry.html_plot import Axis, line_plot

    svg = line_plot("p", "t", [1.0, 1.0], ["2025-10-12T00:00:00Z", "2025-10-13T00:00:00Z"], [],
                    Axis("mean stability", upper=1.0), width=400)
    ticks = [float(t.replace("−", "-")) for t in re.findall(r'class="tick"[^>]*end">([^<]+)<',
                                                          svg)]
    assert max(ticks) == 1.0 and min(ticks) < 1.0
    one = line_plot("p", "t", [0.9], ["2025-10-12T00:00:00Z"], [], Axis("x"), width=400)
    assert ">Oct 12<" in one  # was "12 00:00"
    two = line_plot("p", "t", [0.9, 0.8], ["2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z"], [],
                    Axis("x"), width=400)
    assert ">Mar 03<" in two and ">Mar 04<" in two  # was "03 00:00", "04 00:00"
    hours = line_plot("p", "t", [0.9, 0.8], ["2025-03-03T06:00:00Z", "2025-03-03T12:00:00Z"],
                      [], Axis("x"), width=400)
    assert ">03 06:00<" in hours
