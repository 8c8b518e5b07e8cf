"""Readers for NVIDIA snapshots: `nvidia-smi --query-gpu=... --format=csv` and `nvidia-smi -q -x`.

Both map to the `CardMetrics` the AMD readers produce, so NVIDIA GPUs sit beside AMD ones in the
summary. Cards are named `nvidia<N>` by NVML index (the CSV `index` column, else the row's or
`<gpu>` element's position, which is NVML's enumeration order), so they never merge with
rocm-smi's `card<N>` or amd-smi's `gpu<N>`.

Values come with units ("26.78 W", "15360 MiB", "40 C") or without (`nounits`, where the header
says `memory.used [MiB]`, or the XML never does); a unit that is given must be one the reading
can be converted from, else the reading is kept verbatim in `extra` rather than guessed. nvidia-smi
writes unavailable readings as `[N/A]`, `[Not Supported]`, `[Unknown Error]` or `[Requested
functionality has been deprecated]` (CSV) or `N/A` (XML): all of them become null.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clamp.telemetry.jsonfile import read_snapshot
from clamp.telemetry.rocm_smi import CardMetrics, SmiSnapshot, plausible
from clamp.telemetry.safe_xml import Element, parse_xml

#: The query clamp documents for CSV snapshots; a file without a header line is read as these
#: columns (and refused unless it has exactly this many).
DEFAULT_FIELDS = ("index", "uuid", "name", "temperature.gpu", "power.draw", "power.limit",
                  "utilization.gpu", "utilization.memory", "memory.used", "memory.total",
                  "fan.speed", "clocks.gr", "clocks.sm", "clocks.mem")
MAX_ROWS = 100_000
MAX_COLUMNS = 1_000

_NUMBER = re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z%°]*)$")
_HEADER_CELL = re.compile(r"^([a-zA-Z_][\w.]*)(?: \[([^\]]+)\])?$")
#: nvidia-smi's line for a GPU it cannot reach ("detect" in some Windows builds).
_LOST = re.compile(r"^\s*unable to (?:determine|detect) the device handle for ", re.IGNORECASE)


@dataclass(frozen=True)
class _Kind:
    """A reading's unit: the factor from each accepted unit to the one stored."""

    default: str
    factors: dict[str, float]


_MIB = _Kind("mib", {"b": 2**-20, "kib": 2**-10, "mib": 1.0, "gib": 2**10,
                     "kb": 2**-10, "mb": 1.0, "gb": 2**10})
_WATT = _Kind("w", {"w": 1.0, "mw": 1e-3, "kw": 1e3})
_MHZ = _Kind("mhz", {"mhz": 1.0, "ghz": 1e3, "khz": 1e-3})
_PERCENT = _Kind("%", {"%": 1.0})
_CELSIUS = _Kind("c", {"c": 1.0, "°c": 1.0})
_MILLIVOLT = _Kind("mv", {"mv": 1.0, "v": 1e3})


def _missing(raw: str) -> bool:
    """nvidia-smi's spellings of "no reading": [N/A], N/A, [Not Supported], empty, ..."""
    text = raw.strip()
    return not text or (text.startswith("[") and text.endswith("]")) or text.upper() in (
        "N/A", "NA", "NOT SUPPORTED", "UNKNOWN ERROR")


def reading(raw: str, kind: _Kind, header_unit: str | None = None) -> float | None:
    """The number in `raw` converted to `kind`'s unit; None when missing or not understood."""
    match = _NUMBER.match(raw.strip())
    if match is None:
        return None
    unit = (match.group(2) or header_unit or kind.default).lower()
    factor = kind.factors.get(unit)
    if factor is None:
        return None
    try:
        value = float(match.group(1)) * factor
    except OverflowError:
        return None
    return value if value == value and abs(value) != float("inf") else None


# Where each reading goes: (attribute or "clock:<name>" / "temp:<name>", kind).
_Target = tuple[str, _Kind]
_CSV_FIELDS: dict[str, list[_Target]] = {
    "temperature.gpu": [("temperature_gpu_c", _CELSIUS), ("temp:gpu", _CELSIUS)],
    "temperature.memory": [("temperature_memory_c", _CELSIUS), ("temp:memory", _CELSIUS)],
    "power.draw": [("power_w", _WATT)],
    "power.draw.average": [("power_w", _WATT)],
    "power.draw.instant": [("power_w", _WATT)],
    "enforced.power.limit": [("power_cap_w", _WATT)],
    "power.limit": [("power_cap_w", _WATT)],
    "utilization.gpu": [("gpu_use_percent", _PERCENT)],
    "utilization.memory": [("memory_activity_percent", _PERCENT)],
    "memory.total": [("vram_total_bytes", _MIB)],
    "memory.used": [("vram_used_bytes", _MIB)],
    "fan.speed": [("fan_speed_percent", _PERCENT)],
    "clocks.current.graphics": [("clock:graphics", _MHZ)], "clocks.gr": [("clock:graphics", _MHZ)],
    "clocks.current.sm": [("clock:sm", _MHZ)], "clocks.sm": [("clock:sm", _MHZ)],
    "clocks.current.memory": [("clock:memory", _MHZ)], "clocks.mem": [("clock:memory", _MHZ)],
    "clocks.current.video": [("clock:video", _MHZ)], "clocks.video": [("clock:video", _MHZ)],
}
# Text fields: query name -> CardMetrics attribute (`--help-query-gpu` lists the gpu_* aliases).
_CSV_TEXT = {"name": "name", "gpu_name": "name", "uuid": "unique_id", "gpu_uuid": "unique_id",
             "serial": "serial", "gpu_serial": "serial", "pci.bus_id": "pci_bus",
             "gpu_bus_id": "pci_bus", "vbios_version": "vbios"}


def _store(metrics: CardMetrics, target: str, value: float) -> bool:
    """Set one reading unless an earlier (preferred) spelling already did; True when set."""
    if target.startswith("clock:"):
        return metrics.clocks_mhz.setdefault(target[6:], value) == value
    if target.startswith("temp:"):
        return metrics.temperatures_c.setdefault(target[5:], value) == value
    if getattr(metrics, target) is not None:
        return False
    if target.endswith("_bytes"):
        setattr(metrics, target, round(value * 2**20))
    else:
        setattr(metrics, target, value)
    return True


def _apply(metrics: CardMetrics, key: str, raw: str, targets: list[_Target],
           unit: str | None = None) -> None:
    """Type one reading into its targets; a present reading that is not understood goes to
    `extra` verbatim (fail closed: never a guessed number)."""
    if _missing(raw):
        return
    typed = False
    for target, kind in targets:
        value = reading(raw, kind, unit)
        if value is not None and plausible(  # memory is typed in MiB, stored in bytes
                target, value * 2**20 if target.endswith("_bytes") else value):
            _store(metrics, target, value)
            typed = True
    if not typed:
        metrics.extra[key] = raw.strip()


def _header(cells: list[str]) -> list[tuple[str, str | None]] | None:
    """(field, unit) per column if `cells` is a header line, else None."""
    fields = []
    for cell in cells:
        match = _HEADER_CELL.match(cell.strip())
        if match is None:
            return None
        fields.append((match.group(1), match.group(2)))
    known = {"index", *_CSV_TEXT, *_CSV_FIELDS}
    return fields if any(f in known for f, _ in fields) else None


def lost_gpu(line: str) -> tuple[str, str] | None:
    """(GPU, reason) when `line` is nvidia-smi's report of a GPU it could not reach.

    nvidia-smi prints it in place of that card's row and goes on with the others:
    "Unable to determine the device handle for GPU 0000:0B:00.0: Unknown Error", "... for
    GPU0000:02:00.0: GPU is lost. Reboot the system to recover this GPU", and on driver 610
    "... for GPU1: 0000:34:00.0: Unknown Error". The reason is what follows the last ": ".
    """
    match = _LOST.match(line)
    if match is None:
        return None
    # Printable text only: the line is echoed in warnings, where an escape code would act.
    rest = "".join(ch for ch in line[match.end():] if ch.isprintable())
    gpu, sep, reason = rest.strip().rpartition(": ")
    if not sep:
        gpu, reason = reason, ""
    gpu = gpu[3:].lstrip() if gpu[:3].upper() == "GPU" else gpu
    return gpu.strip()[:100] or "unknown", reason.strip()[:200] or "unknown"


def _items(text: str) -> list[list[str] | tuple[str, str]]:
    """The CSV rows that hold cells, and lost-GPU lines (as `lost_gpu` tuples), in order."""
    lines = text.splitlines()  # Windows captures end lines with CRLF: splitlines takes any
    reader = csv.reader(lines, skipinitialspace=True)
    items: list[list[str] | tuple[str, str]] = []
    try:
        for row in reader:
            lost = lost_gpu(lines[reader.line_num - 1])
            if lost is not None:
                items.append(lost)
            elif any(c.strip() for c in row):
                items.append(row)
    except csv.Error as exc:
        raise ValueError(f"not valid CSV: {exc}") from exc
    return items


def _columns(first: list[str]) -> list[tuple[str, str | None]]:
    """The (field, unit) columns: the header line's, else the documented query's. A field named
    twice is refused: its two cells are two readings of one thing and neither can be chosen
    (a dict of the row would keep the last silently; two captures pasted side by side look so).
    """
    header = _header(first)
    if header is None:
        if len(first) != len(DEFAULT_FIELDS):
            raise ValueError(f"no header line, and {len(first)} columns are not the "
                             f"{len(DEFAULT_FIELDS)} of the documented query")
        return [(f, None) for f in DEFAULT_FIELDS]
    if len(header) > MAX_COLUMNS:
        raise ValueError(f"more than {MAX_COLUMNS} columns")
    seen: set[str] = set()
    for name, _unit in header:
        if name in seen:
            raise ValueError(f"column {name!r} appears twice in the header")
        seen.add(name)
    return header


def parse_nvidia_csv(text: str) -> SmiSnapshot:
    """Parse `nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]` output."""
    items = _items(text)
    if len(items) > MAX_ROWS + 1:
        raise ValueError(f"more than {MAX_ROWS} rows")
    rows = [i for i in items if isinstance(i, list)]
    lost = [i for i in items if isinstance(i, tuple)]
    if not rows:
        if lost:  # every GPU lost: nvidia-smi printed no header
            return SmiSnapshot(cards=[], lost=lost)
        raise ValueError("no rows")
    header = _columns(rows[0])
    has_header = _header(rows[0]) is not None
    cards: list[CardMetrics] = []
    drivers: dict[str, str] = {}
    position = number = 0  # NVML's enumeration order, counting lost GPUs; restarts per loop
    for item in items:
        if isinstance(item, tuple):
            position += 1
            continue
        if has_header and item == rows[0]:  # `-l N` loops repeat the header
            position = 0
            continue
        number += 1
        if len(item) != len(header):
            raise ValueError(f"GPU row {number} has {len(item)} columns, the header "
                             f"{len(header)}")
        values = {f: (cell, unit) for (f, unit), cell in zip(header, item, strict=True)}
        index = values.get("index", ("", None))[0].strip()
        card = CardMetrics(card=f"nvidia{index if index.isdigit() else position}",
                           vendor="NVIDIA")
        position += 1
        for name, targets in _CSV_FIELDS.items():  # in order of preference
            if name in values:
                _apply(card, name, values[name][0], targets, values[name][1])
        for name, (cell, _unit) in values.items():
            if name == "index" or name in _CSV_FIELDS or _missing(cell):
                continue
            if name in ("kmd_version", "driver_version"):
                drivers.setdefault(name, cell.strip())
            elif name in _CSV_TEXT:
                if getattr(card, _CSV_TEXT[name]) is None:
                    setattr(card, _CSV_TEXT[name], cell.strip())
            else:
                card.extra[name] = cell.strip()
        cards.append(card)
    if not cards and not lost:
        raise ValueError("a header line but no GPU rows")
    return SmiSnapshot(cards=cards, lost=lost, driver_version=_driver(
        drivers.get("kmd_version"), drivers.get("driver_version")))


def _driver(kmd: str | None, driver: str | None) -> str | None:
    """The driver version: 610+ name it `kmd_version` and mark `driver_version` deprecated
    ("610.43.02 [Deprecated; ...]" in `-q`), so the KMD one wins and a note is cut off."""
    for text in (kmd, driver):
        if text and not _missing(text):
            return text.split("[", 1)[0].strip() or None
    return None


# XML paths (relative to <gpu>) in order of preference, per target.
_XML_READINGS: list[tuple[str, list[_Target]]] = [
    ("temperature/gpu_temp", _CSV_FIELDS["temperature.gpu"]),
    ("temperature/memory_temp", _CSV_FIELDS["temperature.memory"]),
    *((f"{block}/{name}", [("power_w", _WATT)])
      for block in ("gpu_power_readings", "power_readings")
      for name in ("power_draw", "average_power_draw", "instant_power_draw")),
    *((f"{block}/{name}", [("power_cap_w", _WATT)])
      for block in ("gpu_power_readings", "power_readings")
      for name in ("enforced_power_limit", "current_power_limit", "power_limit")),
    ("utilization/gpu_util", [("gpu_use_percent", _PERCENT)]),
    ("utilization/memory_util", [("memory_activity_percent", _PERCENT)]),
    # `memory_usage` is the block's name in the oldest schemas (before frame buffer and BAR1
    # were told apart); MIG instances' own `fb_memory_usage` sit deeper and are never read.
    *((f"{block}/{name}", [(f"vram_{name}_bytes", _MIB)])
      for block in ("fb_memory_usage", "memory_usage") for name in ("total", "used")),
    ("fan_speed", [("fan_speed_percent", _PERCENT)]),
    ("clocks/graphics_clock", [("clock:graphics", _MHZ)]),
    ("clocks/sm_clock", [("clock:sm", _MHZ)]),
    ("clocks/mem_clock", [("clock:memory", _MHZ)]),
    ("clocks/video_clock", [("clock:video", _MHZ)]),
    ("voltage/graphics_volt", [("voltage_mv", _MILLIVOLT)]),
]
_XML_TEXT = {"product_name": "name", "uuid": "unique_id", "serial": "serial",
             "pci/pci_bus_id": "pci_bus", "vbios_version": "vbios"}
# Kept as text; `mig_mode/current_mig` says why utilisation is N/A (MIG GPUs report none).
_XML_EXTRA = ("performance_state", "product_architecture", "compute_mode", "mig_mode/current_mig")


def _gpu_from_xml(gpu: Element, position: int) -> CardMetrics:
    card = CardMetrics(card=f"nvidia{position}", vendor="NVIDIA")
    for path, attr in _XML_TEXT.items():
        node = gpu.find(path)
        if node is not None and not _missing(node.text):
            setattr(card, attr, node.text)
    for path, targets in _XML_READINGS:
        node = gpu.find(path)
        if node is not None:
            _apply(card, path, node.text, targets)
    for path in _XML_EXTRA:
        node = gpu.find(path)
        if node is not None and not _missing(node.text):
            card.extra[path] = node.text
    return card


def _lost_before(data: bytes) -> tuple[bytes, list[tuple[str, str]]]:
    """The document after the lost-GPU lines nvidia-smi printed ahead of it, and those GPUs."""
    lost: list[tuple[str, str]] = []
    while True:
        line, _, rest = data.lstrip().partition(b"\n")
        found = lost_gpu(line.decode("utf-8", "replace"))
        if found is None:
            return data, lost
        lost.append(found)
        data = rest


def parse_nvidia_xml(data: bytes) -> SmiSnapshot:
    """Parse `nvidia-smi -q -x` output; raises ValueError if it is not usable. A lost GPU's
    line before the document is reported (`lost`), as in the CSV: the document lists the
    others."""
    data, lost = _lost_before(data)
    root = parse_xml(data)
    if root.tag != "nvidia_smi_log":
        raise ValueError(f"root element is <{root.tag[:40]}>, not <nvidia_smi_log>")
    gpus = root.findall("gpu")
    if not gpus:
        raise ValueError("no <gpu> elements")
    kmd, driver = root.find("kmd_version"), root.find("driver_version")
    return SmiSnapshot(cards=[_gpu_from_xml(g, i) for i, g in enumerate(gpus)], lost=lost,
                       driver_version=_driver(kmd.text if kmd is not None else None,
                                              driver.text if driver is not None else None))


def read_nvidia_csv(path: Path) -> SmiSnapshot:
    """Read a `--query-gpu` CSV file; raises ValueError (with a reason) if unusable."""
    raw = read_snapshot(path)
    # PowerShell's `>` writes UTF-16 with a byte-order mark; everything else writes UTF-8.
    encoding = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-16" if encoding == "utf-16" else "UTF-8"
        raise ValueError(f"not {name} text: {exc.reason}") from exc
    return parse_nvidia_csv(text)


def read_nvidia_xml(path: Path) -> SmiSnapshot:
    """Read a `-q -x` XML file; raises ValueError (with a reason) if unusable."""
    return parse_nvidia_xml(read_snapshot(path))


READERS: dict[str, Callable[[Path], SmiSnapshot]] = {".csv": read_nvidia_csv,
                                                      ".xml": read_nvidia_xml}
