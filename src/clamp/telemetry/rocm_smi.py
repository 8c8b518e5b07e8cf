"""Reader for `rocm-smi --json` output: typed metrics per card from stringly-typed JSON.

rocm-smi writes every value as a string, puts units in key names ("Temperature (Sensor edge)
(C)", "Average Graphics Package Power (W)"), marks unsupported readings "N/A", and changes key
sets and capitalisation between ROCm releases and GPU models ("Card Series" vs "Card series").
So keys are matched after normalisation (lower case, single spaces) against several known
spellings, and unknown keys are kept verbatim in `extra` rather than rejected. A mapped reading
is the whole value as one number with at most the unit its key promises ("45.0", "(1051Mhz)",
"818 mV"): anything else ("N/A (Secondary die)", "20 W" under a temperature key) is no reading,
so a stray digit in a message never becomes a number. Tested on real captures (see
tests/telemetry/data/rocm_smi/README.md).
`amd-smi metric --json` output is read by `clamp.telemetry.amd_smi` into the same types.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clamp.telemetry.jsonfile import load_captured_json

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_CLOCK_KEY = re.compile(r"^(\w+) clock speed:?$")
# "Temperature (Sensor edge) (C)", "... (Sensor HBM 2) (C)": every sensor, named or new.
_SENSOR_KEY = re.compile(r"^temperature \(sensor ([^()]+)\) \(c\)$")
_HEX_ID = re.compile(r"^0x[0-9a-f]+$", re.IGNORECASE)


def _norm(key: str) -> str:
    return " ".join(key.lower().split())


def parse_number(value: Any) -> float | None:
    """First number in a rocm-smi value ("45.0", "(1051Mhz)", "12 %"); None for N/A and junk.

    Non-finite and out-of-range numbers ("1e999", NaN, huge JSON integers) are junk too.
    """
    if isinstance(value, bool):
        return None
    number: int | float | str
    if isinstance(value, int | float):
        number = value
    elif not isinstance(value, str) or value.strip().upper() in ("", "N/A", "NA", "UNKNOWN"):
        return None
    else:
        match = _NUMBER.search(value)
        if match is None:
            return None
        number = match.group(0)
    try:
        result = float(number)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


# A reading's text: a number, optionally followed by a unit, optionally in parentheses.
_READING = re.compile(r"\(?\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([a-z%°]*)\s*\)?")
#: The longest text read as a reading (a byte count is 20 digits).
MAX_READING = 64
_UNITS_C = frozenset({"", "c", "°c"})
_UNITS_W = frozenset({"", "w"})
_UNITS_PERCENT = frozenset({"", "%"})
_UNITS_MV = frozenset({"", "mv"})
_UNITS_MHZ = frozenset({"", "mhz"})
_UNITS_BYTES = frozenset({"", "b"})
_UNITS_RPM = frozenset({"", "rpm"})


def parse_reading(value: Any, units: frozenset[str]) -> float | None:
    """`value` as one number in one of `units` (lower case, "" = none given); else None.

    Strict where `parse_number` is lenient: the whole text must be the reading, so "N/A
    (Secondary die 1)" or "0x1" is no reading rather than 1.0 or 0.0, and a unit other than the
    key's ("45 W" for a temperature) is refused rather than converted by guess.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        match = _READING.fullmatch(text) if len(text) <= MAX_READING else None
        if match is None or match.group(2) not in units or (
                text.startswith("(") != text.endswith(")")):
            return None
        value = match.group(1)
    return parse_number(value)


# normalised key spellings -> metric name; the first spelling present wins.
_FIELDS: dict[str, tuple[str, ...]] = {
    "temperature_edge_c": ("temperature (sensor edge) (c)",),
    "temperature_junction_c": ("temperature (sensor junction) (c)",
                               "temperature (sensor hotspot) (c)"),
    "temperature_memory_c": ("temperature (sensor memory) (c)", "temperature (sensor mem) (c)"),
    "power_w": ("average graphics package power (w)", "current socket graphics package power (w)",
                "current graphics package power (w)"),
    "power_cap_w": ("max graphics package power (w)",),
    "gpu_use_percent": ("gpu use (%)",),
    "vram_allocated_percent": ("gpu memory allocated (vram%)",),
    # Before ROCm 6.1, "GPU memory use (%)" is rsmi_dev_memory_busy_percent_get, the sysfs
    # mem_busy_percent (the memory controller's busy time), which ROCm 6 renamed "GPU Memory
    # Read/Write Activity (%)": an activity, not the share of VRAM allocated.
    "memory_activity_percent": ("gpu memory read/write activity (%)", "gpu memory use (%)"),
    "voltage_mv": ("voltage (mv)",),
    "fan_speed_percent": ("fan speed (%)",),
    "fan_rpm": ("fan rpm",),
    # "GPU memory available"/"GPU memory use" (bytes) are `--showmemuse --json` output from
    # ROCm/rocm_smi_lib PR #120 (closed there; patched builds may still print them).
    "vram_total_bytes": ("vram total memory (b)", "gpu memory available"),
    "vram_used_bytes": ("vram total used memory (b)", "gpu memory use"),
    "gtt_total_bytes": ("gtt total memory (b)",),
    "gtt_used_bytes": ("gtt total used memory (b)",),
}
# The unit each metric's value may carry (the key already names it: "(W)", "(%)", "(B)").
_FIELD_UNITS: dict[str, frozenset[str]] = {
    "temperature_edge_c": _UNITS_C, "temperature_junction_c": _UNITS_C,
    "temperature_memory_c": _UNITS_C, "power_w": _UNITS_W, "power_cap_w": _UNITS_W,
    "gpu_use_percent": _UNITS_PERCENT, "vram_allocated_percent": _UNITS_PERCENT,
    "memory_activity_percent": _UNITS_PERCENT, "voltage_mv": _UNITS_MV,
    "fan_speed_percent": _UNITS_PERCENT, "fan_rpm": _UNITS_RPM,
    "vram_total_bytes": _UNITS_BYTES, "vram_used_bytes": _UNITS_BYTES,
    "gtt_total_bytes": _UNITS_BYTES, "gtt_used_bytes": _UNITS_BYTES,
}
# ROCm/rocm_smi_lib PR #120's patched `--showmemuse` prints "GPU memory use (%)" as used /
# available VRAM beside its byte counts: there, and only there, it is the allocated share.
_FIELDS_PR120 = {**_FIELDS, "vram_allocated_percent": ("gpu memory allocated (vram%)",
                                                       "gpu memory use (%)"),
                 "memory_activity_percent": ("gpu memory read/write activity (%)",)}
# A card's name: the first of these that is not a bare PCI id ("0x1002" in "Card series" on
# some releases, "0xc1e" in "Card model" where there is no series).
_NAMES = ("card series", "device name", "card model")
_TEXT = {"vendor": ("card vendor",), "gfx_version": ("gfx version",), "pci_bus": ("pci bus",),
         "vbios": ("vbios version",), "serial": ("serial number",), "model": ("card model",),
         "sku": ("card sku",), "gpu_id": ("gpu id", "device id"), "unique_id": ("unique id",)}


#: Ranges a reading of one GPU can physically have, by the unit it is stored in. Outside them it
#: is a sentinel (65535 for "not supported", -1) or a value in another unit than labelled
#: (millidegrees, mW labelled W, Hz labelled MHz): unknown, never a wrong number.
_RANGES = {"c": (-60.0, 250.0), "%": (0.0, 100.0), "w": (0.0, 10_000.0),
           "mhz": (0.0, 100_000.0), "mv": (0.0, 10_000.0), "b": (0.0, 2.0**50),
           "rpm": (0.0, 100_000.0)}


def plausible(attr: str, value: float) -> bool:
    """Whether `value` can be the `CardMetrics` reading `attr` ("clock:<name>" and
    "temp:<name>" name the `clocks_mhz` and `temperatures_c` entries)."""
    if attr.startswith("temp") or attr.endswith("_c"):
        kind = "c"
    elif attr.startswith("clock"):
        kind = "mhz"
    elif attr.endswith("_percent"):
        kind = "%"
    else:
        kind = attr.rsplit("_", 1)[-1].replace("bytes", "b")
    low, high = _RANGES.get(kind, (float("-inf"), float("inf")))
    return low <= value <= high


@dataclass
class CardMetrics:
    """Typed readings of one card in one snapshot; None where the card did not report."""

    card: str
    name: str | None = None
    vendor: str | None = None
    model: str | None = None
    sku: str | None = None
    gpu_id: str | None = None
    unique_id: str | None = None
    gfx_version: str | None = None
    pci_bus: str | None = None
    vbios: str | None = None
    serial: str | None = None
    #: NVIDIA's one die temperature (`temperature.gpu`); AMD cards report edge/junction instead.
    temperature_gpu_c: float | None = None
    temperature_edge_c: float | None = None
    temperature_junction_c: float | None = None
    temperature_memory_c: float | None = None
    power_w: float | None = None
    power_cap_w: float | None = None
    gpu_use_percent: float | None = None
    vram_allocated_percent: float | None = None
    memory_activity_percent: float | None = None
    voltage_mv: float | None = None
    fan_speed_percent: float | None = None
    fan_rpm: float | None = None
    vram_total_bytes: int | None = None
    vram_used_bytes: int | None = None
    gtt_total_bytes: int | None = None
    gtt_used_bytes: int | None = None
    clocks_mhz: dict[str, float] = field(default_factory=dict)
    #: Every temperature sensor by its lower-case name ("edge", "junction", "hbm 0", ...).
    temperatures_c: dict[str, float] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class SmiSnapshot:
    """One snapshot: the cards it read, and the GPUs the tool said it could not reach."""

    cards: list[CardMetrics]
    driver_version: str | None = None
    #: (GPU as the tool named it, the tool's reason): nvidia-smi prints "Unable to determine
    #: the device handle for GPU 0000:0B:00.0: Unknown Error" in place of a lost card's row.
    lost: list[tuple[str, str]] = field(default_factory=list)


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    return None if text.upper() in ("", "N/A") else text


def parse_card(card: str, values: dict[str, Any]) -> CardMetrics:
    """Map one card's raw key/value pairs to `CardMetrics`."""
    metrics = CardMetrics(card=card)
    normalised = {_norm(k): v for k, v in values.items() if isinstance(k, str)}
    used: set[str] = set()
    fields = _FIELDS_PR120 if "gpu memory available" in normalised else _FIELDS
    for attr, spellings in fields.items():
        for spelling in spellings:
            if spelling in normalised:
                raw = normalised[spelling]
                number = parse_reading(raw, _FIELD_UNITS[attr])
                if number is not None and not plausible(attr, number):
                    number = None  # a sentinel ("-1", "65535") or another unit than the key's
                if number is not None or raw is None or (isinstance(raw, str)
                                                         and _text(raw) is None):
                    used.add(spelling)  # else kept verbatim in `extra`: present, not understood
                if number is not None:
                    current = getattr(metrics, attr)
                    if current is None:
                        setattr(metrics, attr, int(number) if attr.endswith("_bytes")
                                else number)
    for spelling in _NAMES:
        name = _text(normalised.get(spelling))
        if metrics.name is None and name is not None and not _HEX_ID.match(name):
            metrics.name = name
        used.add(spelling)
    for attr, spellings in _TEXT.items():
        for spelling in spellings:
            if spelling in normalised:
                used.add(spelling)
                if getattr(metrics, attr) is None:
                    setattr(metrics, attr, _text(normalised[spelling]))
    for key, value in normalised.items():
        clock = _CLOCK_KEY.match(key)
        if clock:
            number = parse_reading(value, _UNITS_MHZ)
            if number is not None and plausible("clock", number):
                metrics.clocks_mhz[clock.group(1)] = number
                used.add(key)
        sensor = _SENSOR_KEY.match(key)
        if sensor:
            number = parse_reading(value, _UNITS_C)
            if number is not None and plausible("temp", number):
                metrics.temperatures_c[sensor.group(1).strip()] = number
                used.add(key)
        if (clock or sensor) and (value is None or (isinstance(value, str)
                                                    and _text(value) is None)):
            used.add(key)  # "N/A": no reading, nothing to keep
    if metrics.temperature_memory_c is None:  # HBM parts report their stacks instead
        stacks = [v for k, v in metrics.temperatures_c.items() if k.startswith("hbm")]
        metrics.temperature_memory_c = max(stacks) if stacks else None
    for key, value in values.items():
        if isinstance(key, str) and _norm(key) not in used:
            metrics.extra[key] = value if isinstance(value, str) else json.dumps(value)
    return metrics


def parse_rocm_smi(document: Any) -> SmiSnapshot:
    """Parse a decoded `rocm-smi --json` document; raises ValueError if it is not one."""
    if not isinstance(document, dict):
        raise ValueError("rocm-smi output is not a JSON object")
    cards = []
    driver = None
    for key, value in document.items():
        if not isinstance(value, dict):
            continue
        if _norm(key) == "system":
            driver = _text({_norm(k): v for k, v in value.items()}.get("driver version"))
        elif _norm(key).startswith("card"):
            cards.append(parse_card(key, value))
    if not cards:
        raise ValueError("no card entries")
    return SmiSnapshot(cards=cards, driver_version=driver)


def read_rocm_smi(path: Path) -> SmiSnapshot:
    """Read a `rocm-smi --json` file; raises ValueError (with a reason) when it is unusable."""
    return parse_rocm_smi(load_captured_json(path))
