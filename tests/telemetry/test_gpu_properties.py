"""Properties of the GPU readers' number and CSV parsing (hypothesis): what nvidia-smi writes
in every CSV format reads back unchanged, a reading is one number in an allowed unit, and no
input - however hostile - gives a typed reading one GPU cannot have."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from clamp.telemetry.amd_smi import parse_amd_smi
from clamp.telemetry.nvidia_smi import DEFAULT_FIELDS, parse_nvidia_csv
from clamp.telemetry.rocm_smi import parse_reading, parse_rocm_smi, plausible

MIB = 2**20


NUMBER = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False).map(lambda f: round(f, 3))


@given(NUMBER, st.sampled_from(["", "c", "C", "°C"]), st.booleans(), st.booleans())
def test_parse_reading_takes_a_number_with_an_allowed_unit(
        value: float, unit: str, space: bool, parens: bool) -> None:
    text = f"{value}{' ' if space else ''}{unit}"
    text = f"({text})" if parens else text
    assert parse_reading(text, frozenset({"", "c", "°c"})) == value
    assert parse_reading(text + " x", frozenset({"", "c", "°c"})) is None
    assert parse_reading(f"N/A {text}", frozenset({"", "c", "°c"})) is None
    if unit:
        assert parse_reading(text, frozenset({""})) is None


# Within every column's physical range (0-100 suits °C, %, W, MiB and MHz alike).
READING = st.one_of(st.none(), st.integers(0, 100).map(float),
                    st.floats(0, 100, allow_nan=False).map(lambda f: round(f, 2)))
# The documented query (DEFAULT_FIELDS) after index, uuid, name: (unit nvidia-smi prints,
# CardMetrics attribute, factor to the stored unit).
COLUMNS = [("", "temperature_gpu_c", 1.0), ("W", "power_w", 1.0), ("W", "power_cap_w", 1.0),
           ("%", "gpu_use_percent", 1.0), ("%", "memory_activity_percent", 1.0),
           ("MiB", "vram_used_bytes", MIB), ("MiB", "vram_total_bytes", MIB),
           ("%", "fan_speed_percent", 1.0), ("MHz", "clock:graphics", 1.0),
           ("MHz", "clock:sm", 1.0), ("MHz", "clock:memory", 1.0)]
MISSING = st.sampled_from(["[N/A]", "[Not Supported]", "[Unknown Error]",
                           "[Requested functionality has been deprecated]", "N/A"])


def _attr(card: Any, attr: str) -> Any:
    return card.clocks_mhz.get(attr[6:]) if attr.startswith("clock:") else getattr(card, attr)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(READING, min_size=len(COLUMNS), max_size=len(COLUMNS)),
                          MISSING), min_size=1, max_size=8),
       st.booleans(), st.booleans(), st.sampled_from([", ", ","]), st.sampled_from(["\n", "\r\n"]))
def test_csv_round_trip_in_every_format(rows: list[tuple[list[float | None], str]], header: bool,
                                        units: bool, sep: str, newline: str) -> None:
    """What nvidia-smi writes in csv / csv,noheader / csv,nounits / csv,noheader,nounits reads
    back as the same numbers, in the stored units, with every "no reading" spelling unknown."""
    lines = []
    if header:  # `nounits` moves the unit into the header; with units the header has it too
        lines.append(sep.join(f"{f} [{c[0]}]" if i >= 3 and c[0] else f for i, (f, c) in
                              enumerate(zip(DEFAULT_FIELDS, [("",)] * 3 + COLUMNS, strict=True))))
    for i, (values, missing) in enumerate(rows):
        cells = [str(i), f"GPU-{i:08d}-0000-0000-0000-000000000000", "NVIDIA A100-SXM4-40GB"]
        for (unit, _a, _k), value in zip(COLUMNS, values, strict=True):
            shown = f"{value:g}" if value is not None else missing
            cells.append(f"{shown} {unit}" if value is not None and units and unit else shown)
        lines.append(sep.join(cells))
    cards = parse_nvidia_csv(newline.join(lines) + newline).cards
    assert [c.card for c in cards] == [f"nvidia{i}" for i in range(len(rows))]
    for card, (values, _missing) in zip(cards, rows, strict=True):
        assert card.name == "NVIDIA A100-SXM4-40GB" and card.extra == {}
        for (_u, attr, factor), value in zip(COLUMNS, values, strict=True):
            expected = None if value is None else float(f"{value:g}") * factor
            if expected is not None and attr.endswith("_bytes"):
                expected = round(expected)
            assert _attr(card, attr) == expected


NUMERIC = ("temperature_gpu_c", "temperature_edge_c", "temperature_junction_c",
           "temperature_memory_c", "power_w", "power_cap_w", "gpu_use_percent",
           "vram_allocated_percent", "memory_activity_percent", "voltage_mv",
           "fan_speed_percent", "fan_rpm", "vram_total_bytes", "vram_used_bytes",
           "gtt_total_bytes", "gtt_used_bytes")


def all_plausible(card: Any) -> None:
    for attr in NUMERIC:
        value = getattr(card, attr)
        assert value is None or plausible(attr, value), (attr, value)
    assert all(plausible("clock", v) for v in card.clocks_mhz.values())
    assert all(plausible("temp", v) for v in card.temperatures_c.values())


TEXTS = st.one_of(st.floats(allow_nan=True).map(repr), st.integers(-10**6, 10**12).map(str),
                  st.sampled_from(["N/A", "(1051Mhz)", "45 C", "65535", "-1", "1e999"]))
UNITS = st.sampled_from(["", " W", " mW", " MiB", " GiB", " MHz", " %", " C", " kW"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(TEXTS, UNITS), min_size=14, max_size=14))
def test_csv_typed_readings_are_always_plausible(cells: list[tuple[str, str]]) -> None:
    row = ", ".join(f"{number}{unit}" for number, unit in cells)
    with contextlib.suppress(ValueError):
        for card in parse_nvidia_csv(", ".join(DEFAULT_FIELDS) + "\n" + row + "\n").cards:
            all_plausible(card)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([
    "Temperature (Sensor edge) (C)", "Temperature (Sensor HBM 0) (C)", "GPU use (%)",
    "Average Graphics Package Power (W)", "Max Graphics Package Power (W)", "Voltage (mV)",
    "VRAM Total Memory (B)", "sclk clock speed:", "Fan RPM", "Fan speed (%)"]),
    st.one_of(TEXTS, st.floats(), st.integers())))
def test_rocm_smi_typed_readings_are_always_plausible(values: dict[str, Any]) -> None:
    all_plausible(parse_rocm_smi({"card0": values}).cards[0])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["gfx_activity", "socket_power", "hotspot", "total_vram",
                                        "gfx_0", "usage", "rpm"]),
                       st.one_of(TEXTS, st.floats(), st.integers(),
                                 st.builds(lambda v, u: {"value": v, "unit": u.strip()},
                                           st.floats() | st.integers(), UNITS))))
def test_amd_smi_typed_readings_are_always_plausible(values: dict[str, Any]) -> None:
    blocks = ("usage", "power", "temperature", "mem_usage", "clock", "fan", "limit")
    all_plausible(parse_amd_smi([{"gpu": 0, **{b: values for b in blocks}}]).cards[0])
