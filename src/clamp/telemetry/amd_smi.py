"""Reader for `amd-smi metric --json` (and `static --json`) output, into the rocm-smi types.

amd-smi nests its readings by block ("usage", "power", "clock", "temperature", "mem_usage"),
gives most of them as `{"value": 42, "unit": "%"}`, and writes "N/A" for a reading (or a whole
block) the GPU does not support. Older releases print a JSON list of per-GPU objects, newer
ones an object `{"gpu_data": [...]}`. Values are also accepted as plain numbers or numeric
strings ("20 W"); units are converted to the `CardMetrics` units (mW -> W, V -> mV, MB -> bytes
with MB = MiB as amd-smi computes it, GHz -> MHz). Releases before ROCm 6.1 printed no units in
JSON (memory sizes are then bare MB) and other key names (gfx_usage, current_power, ...).
Readings that are not mapped - or whose
shape or unit is not understood - are kept in `extra` under their dotted path ("clock.gfx_0.
max_clk" -> "2482 MHz"); "N/A" and null readings are dropped from `extra`. `amd-smi static`
adds what `metric` lacks: the GPU's name and serial (asic), VRAM size and power cap (limit).
Tested on documents reconstructed from real outputs quoted in public threads: see
tests/telemetry/data/amd_smi/README.md.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clamp.telemetry.jsonfile import load_captured_json
from clamp.telemetry.rocm_smi import CardMetrics, SmiSnapshot, parse_number, plausible

# Matched against the stripped text, so no two `\s*` sit side by side around the optional unit:
# with them, "1" + 16,000 spaces + "a b" took 5 s (the time grew with the cube of the length).
_QUANTITY = re.compile(r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([^\d\s]\S*)?")
#: The longest text read as a quantity ("16368 MB", "-12.5e3 mW"...).
MAX_QUANTITY = 64
_MISSING = ("", "N/A", "NA")


@dataclass(frozen=True)
class _Metric:
    attr: str
    units: dict[str | None, float]  # normalised unit (None: no unit given) -> factor


_PERCENT = {None: 1.0, "%": 1.0}
_CELSIUS = {None: 1.0, "c": 1.0, "°c": 1.0}
_WATTS = {None: 1.0, "w": 1.0, "mw": 1e-3, "uw": 1e-6, "µw": 1e-6}
_MILLIVOLTS = {None: 1.0, "mv": 1.0, "v": 1e3}
# amd-smi divides byte counts by 1024 * 1024 and labels them "MB": binary multiples throughout.
_BYTES = {None: 1.0, "b": 1.0, "kb": 1024.0, "kib": 1024.0, "mb": 1024.0**2, "mib": 1024.0**2,
          "gb": 1024.0**3, "gib": 1024.0**3}
# amd-smi before ROCm 6.1 wrote memory sizes as bare numbers of MB (`total_vram // (1024*1024)`
# in its CLI, the unit added only to the text output); 6.1+ always labels them. A bare number
# under a memory key is therefore MiB, never bytes (read as bytes, 64 GiB became 64 KiB).
_MEBIBYTES = {**_BYTES, None: 1024.0**2}
_MEGAHERTZ = {None: 1.0, "mhz": 1.0, "ghz": 1e3, "khz": 1e-3}
_RPM = {None: 1.0, "rpm": 1.0}

# (block, key) -> metric, in order of preference where several keys give one metric.
_METRICS: dict[tuple[str, str], _Metric] = {
    ("usage", "gfx_activity"): _Metric("gpu_use_percent", _PERCENT),
    ("usage", "umc_activity"): _Metric("memory_activity_percent", _PERCENT),
    # amd-smi before ROCm 6.1 renamed amdsmi's keys: gfx_usage, mem_usage (the UMC, a
    # percentage), current_power, current_gfx_voltage, power_limit (the cap in force).
    ("usage", "gfx_usage"): _Metric("gpu_use_percent", _PERCENT),
    ("usage", "mem_usage"): _Metric("memory_activity_percent", _PERCENT),
    ("power", "socket_power"): _Metric("power_w", _WATTS),
    # amdsmi_get_power_info's own names: MI300 reports current, MI200 and Navi the average.
    ("power", "current_socket_power"): _Metric("power_w", _WATTS),
    ("power", "average_socket_power"): _Metric("power_w", _WATTS),
    ("power", "current_power"): _Metric("power_w", _WATTS),
    ("power", "gfx_voltage"): _Metric("voltage_mv", _MILLIVOLTS),
    ("power", "current_gfx_voltage"): _Metric("voltage_mv", _MILLIVOLTS),
    ("power", "power_limit"): _Metric("power_cap_w", _WATTS),
    ("temperature", "edge"): _Metric("temperature_edge_c", _CELSIUS),
    ("temperature", "hotspot"): _Metric("temperature_junction_c", _CELSIUS),
    ("temperature", "mem"): _Metric("temperature_memory_c", _CELSIUS),
    ("fan", "usage"): _Metric("fan_speed_percent", _PERCENT),
    ("fan", "rpm"): _Metric("fan_rpm", _RPM),
    ("mem_usage", "total_vram"): _Metric("vram_total_bytes", _MEBIBYTES),
    ("mem_usage", "used_vram"): _Metric("vram_used_bytes", _MEBIBYTES),
    ("mem_usage", "total_gtt"): _Metric("gtt_total_bytes", _MEBIBYTES),
    ("mem_usage", "used_gtt"): _Metric("gtt_used_bytes", _MEBIBYTES),
    # `amd-smi static --json`: the board's VRAM and its power cap (6.0-6.2 "limit" names it
    # socket_power, 6.3+ socket_power_limit under "ppt0"; max_power is the highest cap that
    # may be set, not the one in force, so it is not read as the limit; before 6.1 the cap in
    # force was "current_power" and the VRAM size a bare "vram_size_mb").
    ("vram", "size"): _Metric("vram_total_bytes", _MEBIBYTES),
    ("vram", "vram_size_mb"): _Metric("vram_total_bytes", _MEBIBYTES),
    ("limit", "current_power"): _Metric("power_cap_w", _WATTS),
    ("limit", "socket_power_limit"): _Metric("power_cap_w", _WATTS),
    ("limit", "ppt0.socket_power_limit"): _Metric("power_cap_w", _WATTS),
    ("limit", "socket_power"): _Metric("power_cap_w", _WATTS),
}
# `amd-smi static --json` text: (block, key) -> CardMetrics attribute, first present wins.
_STATIC_TEXT: dict[tuple[str, str], str] = {
    ("asic", "market_name"): "name", ("board", "product_name"): "name",
    ("asic", "asic_serial"): "unique_id", ("board", "product_serial"): "serial",
    ("asic", "vendor_name"): "vendor", ("asic", "device_id"): "gpu_id",
    ("asic", "target_graphics_version"): "gfx_version", ("bus", "bdf"): "pci_bus",
    ("vbios", "version"): "vbios", ("ifwi", "version"): "vbios",
    ("vbios", "vbios_version"): "vbios",  # before ROCm 6.1
    ("board", "model_number"): "model",
}
_HEX_ONLY = re.compile(r"0x[0-9a-f]*", re.IGNORECASE)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().upper() in _MISSING)


def _quantity(value: Any) -> tuple[float, str | None] | None:
    """(number, normalised unit) of 42, "42", "20 W" or {"value": 42, "unit": "%"}; else None."""
    unit: Any = None
    if isinstance(value, dict) and "value" in value:
        unit = value.get("unit")
        value = value["value"]
    if isinstance(value, str):
        text = value.strip()
        match = _QUANTITY.fullmatch(text) if len(text) <= MAX_QUANTITY else None
        if match is None or (match.group(2) and unit is not None):
            return None
        value, unit = match.group(1), match.group(2) or unit
    number = parse_number(value)
    if number is None or (unit is not None and not isinstance(unit, str)):
        return None
    return number, (unit.strip().lower() or None) if isinstance(unit, str) else None


def _reading(value: Any, units: dict[str | None, float]) -> float | None:
    """The value in the metric's unit; None if it is not a quantity in a known unit."""
    quantity = _quantity(value)
    if quantity is None or quantity[1] not in units:
        return None
    converted = quantity[0] * units[quantity[1]]
    return converted if math.isfinite(converted) else None


def _is_missing_reading(value: Any) -> bool:
    """"N/A", null, or {"value": "N/A", ...}."""
    return _missing(value) or (isinstance(value, dict) and "value" in value
                               and _missing(value["value"]))


def _leaf_text(value: Any) -> str | None:
    """Text for `extra` of a non-container value or a {"value", "unit"} pair; None to drop it."""
    if _is_missing_reading(value):
        return None
    if isinstance(value, dict):
        number, unit = value["value"], value.get("unit")
        text = number if isinstance(number, str) else json.dumps(number)
        return f"{text} {unit}" if isinstance(unit, str) and unit else text
    return value if isinstance(value, str) else json.dumps(value)


def _is_leaf(value: Any) -> bool:
    if isinstance(value, dict):
        return ("value" in value and set(value) <= {"value", "unit"}
                and not isinstance(value["value"], dict | list)
                and isinstance(value.get("unit", ""), str))
    return not isinstance(value, list)


def _flatten(value: Any, path: str, skip: set[str], out: dict[str, str]) -> None:
    """Put every leaf under `value` into `out` by dotted path, except the paths in `skip`.

    Iterative, so a deeply nested document cannot exhaust the interpreter's recursion limit.
    """
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if where in skip:
            continue
        if _is_leaf(item):
            text = _leaf_text(item)
            if text is not None and where:
                out[where] = text
        elif isinstance(item, dict):
            stack.extend((f"{where}.{k}" if where else str(k), v)
                         for k, v in reversed(list(item.items())))
        else:
            stack.extend((f"{where}.{i}" if where else str(i), v)
                         for i, v in reversed(list(enumerate(item))))


def _card_name(entry: dict[str, Any], position: int) -> tuple[str, bool]:
    """("gpu<N>", whether the "gpu" key was used) from the entry's "gpu" index or its position."""
    index = entry.get("gpu")
    if isinstance(index, int) and not isinstance(index, bool) and index >= 0:
        return f"gpu{index}", True
    if isinstance(index, str) and index.strip().isdigit():
        return f"gpu{int(index.strip())}", True
    return f"gpu{position}", False


def _lookup(section: Any, key: str) -> tuple[Any] | None:
    """(value,) at the dotted `key` inside `section`, or None where it is absent."""
    for part in key.split("."):
        if not isinstance(section, dict) or part not in section:
            return None
        section = section[part]
    return (section,)


def parse_gpu(entry: dict[str, Any], position: int) -> CardMetrics:
    """Map one GPU's `amd-smi metric` object to `CardMetrics`."""
    card, named = _card_name(entry, position)
    metrics = CardMetrics(card=card)
    used: set[str] = {"gpu"} if named else set()
    for (block, key), metric in _METRICS.items():
        found = _lookup(entry.get(block), key)
        if found is None:
            continue
        value = found[0]
        reading = _reading(value, metric.units)
        if reading is not None and not plausible(metric.attr, reading):
            reading = None  # a sentinel (65535, -1) or a value in another unit than labelled
        if reading is not None and getattr(metrics, metric.attr) is None:
            setattr(metrics, metric.attr,
                    int(reading) if metric.attr.endswith("_bytes") else reading)
        if reading is not None or _is_missing_reading(value):
            used.add(f"{block}.{key}")
    for (block, key), attr in _STATIC_TEXT.items():
        found = _lookup(entry.get(block), key)
        text = found[0].strip() if found is not None and isinstance(found[0], str) else None
        if (text and not _missing(text) and getattr(metrics, attr) is None
                and not (attr == "name" and _HEX_ONLY.fullmatch(text))):
            setattr(metrics, attr, text)
            used.add(f"{block}.{key}")
    temperatures = entry.get("temperature")
    if isinstance(temperatures, dict):  # every sensor, as the rocm-smi reader keeps them
        for name, value in temperatures.items():
            reading = _reading(value, _CELSIUS)
            if reading is not None and plausible("temp", reading):
                metrics.temperatures_c[str(name).lower()] = reading
                used.add(f"temperature.{name}")
    clocks = entry.get("clock")
    if isinstance(clocks, dict):
        for name, clock in clocks.items():
            path = f"clock.{name}"
            for current in ("clk", "cur_clk"):  # "cur_clk" in older releases
                if isinstance(clock, dict) and current in clock:
                    clock, path = clock[current], f"{path}.{current}"
                    break
            reading = _reading(clock, _MEGAHERTZ)
            if reading is not None and not plausible("clock", reading):
                reading = None
            if reading is not None:
                metrics.clocks_mhz[str(name)] = reading
            if reading is not None or _is_missing_reading(clock):
                used.add(path)
    _flatten(entry, "", used, metrics.extra)
    return metrics


def parse_amd_smi(document: Any) -> SmiSnapshot:
    """Parse a decoded `amd-smi metric --json` document; raises ValueError if it is not one."""
    if isinstance(document, dict):
        if "gpu_data" not in document:
            raise ValueError("amd-smi output is an object without gpu_data")
        entries = document["gpu_data"]
        if not isinstance(entries, list):
            raise ValueError("gpu_data is not a list")
    elif isinstance(document, list):
        entries = document
    else:
        raise ValueError("amd-smi output is neither a JSON list nor an object")
    cards = [parse_gpu(entry, i) for i, entry in enumerate(entries) if isinstance(entry, dict)]
    gpus = [entry for entry in entries if isinstance(entry, dict)]
    if not cards:
        raise ValueError("no GPU entries")
    return SmiSnapshot(cards=cards, driver_version=_driver(gpus))


def _driver(entries: list[dict[str, Any]]) -> str | None:
    """The amdgpu version `amd-smi static` reports ("driver": {"version": ...}; before ROCm 6.1
    "driver_version")."""
    for entry in entries:
        for key in ("version", "driver_version"):
            found = _lookup(entry.get("driver"), key)
            if found is not None and isinstance(found[0], str) and not _missing(found[0]):
                return found[0].strip()
    return None


def read_amd_smi(path: Path) -> SmiSnapshot:
    """Read an `amd-smi metric --json` file; raises ValueError (with a reason) if unusable."""
    return parse_amd_smi(load_captured_json(path))
