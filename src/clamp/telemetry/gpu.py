"""GPU readings for the summary: per-card aggregates over `rocm-smi --json`,
`amd-smi metric --json` and NVIDIA `nvidia-smi --query-gpu --format=csv` / `nvidia-smi -q -x`
snapshots, AMD and NVIDIA cards side by side.

Snapshots are few and small (one per CI job), so they are read directly rather than stored;
an unreadable snapshot is reported as a corrupt input like a bad session file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clamp.telemetry.amd_smi import parse_amd_smi
from clamp.telemetry.jsonfile import load_captured_json
from clamp.telemetry.models import GpuCard, GpuMetrics, LostGpu
from clamp.telemetry.nvidia_smi import READERS as NVIDIA_READERS
from clamp.telemetry.rocm_smi import CardMetrics, SmiSnapshot, parse_rocm_smi


def parse_gpu_snapshot(document: Any) -> SmiSnapshot:
    """Parse a decoded rocm-smi or amd-smi document, detected by shape.

    An object with "gpu_data", or a list, is amd-smi; an object with a "card..." key is
    rocm-smi. Raises ValueError whose reason starts with the reader that failed ("rocm-smi: ",
    "amd-smi: ") or says the document is neither.
    """
    if isinstance(document, list) or (isinstance(document, dict) and "gpu_data" in document):
        reader, parse = "amd-smi", parse_amd_smi
    elif isinstance(document, dict) and any(
            isinstance(k, str) and k.strip().lower().startswith("card") for k in document):
        reader, parse = "rocm-smi", parse_rocm_smi
    else:
        raise ValueError("not rocm-smi or amd-smi JSON")
    try:
        return parse(document)
    except ValueError as exc:
        raise ValueError(f"{reader}: {exc}") from exc


#: Lost GPUs listed in a summary: a fleet loses a few; a file of 100,000 such lines (the CSV
#: reader's row bound) would otherwise put 100,000 entries in the summary.
MAX_LOST = 100

#: Snapshot file names read from the gpu/ directory, by suffix.
SUFFIXES = (".json", ".csv", ".xml")


def snapshot_tool(path: Path, snapshot: SmiSnapshot) -> str:
    """The tool that wrote a snapshot read from `path` (for the summary's `source`)."""
    if path.suffix.lower() in NVIDIA_READERS:
        return "nvidia-smi"
    return "rocm-smi" if any(c.card.startswith("card") for c in snapshot.cards) else "amd-smi"


def read_gpu_snapshot(path: Path) -> SmiSnapshot:
    """Read a snapshot by its suffix: `.json` is rocm-smi or amd-smi (told apart by shape),
    `.csv` and `.xml` are nvidia-smi. Raises ValueError (with a reason) if unusable."""
    reader = NVIDIA_READERS.get(path.suffix.lower())
    if reader is not None:
        try:
            return reader(path)
        except ValueError as exc:
            raise ValueError(f"nvidia-smi: {exc}") from exc
    return parse_gpu_snapshot(load_captured_json(path))


def _max(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _named(readings: list[CardMetrics]) -> bool:
    return any(r.unique_id or r.name for r in readings)


def _join_unnamed(per_card: dict[tuple[str, str], list[CardMetrics]],
                  tools: dict[tuple[str, str], str]) -> None:
    """Fold readings of an unnamed GPU into the one named GPU of the same tool and index.

    `amd-smi metric` names no GPU while `amd-smi static` does: snapshots of both from one job
    are one GPU, so its temperatures and its model meet in one row. Only when exactly one named
    GPU has that index and its VRAM size does not contradict the unnamed readings' (snapshots
    from several machines keep their rows apart rather than be merged by guess).
    """
    for key in [k for k, readings in per_card.items() if not _named(readings)]:
        sizes = {r.vram_total_bytes for r in per_card[key] if r.vram_total_bytes}
        named = [k for k, readings in per_card.items()
                 if k[0] == key[0] and tools[k] == tools[key] and _named(readings)]
        if len(named) != 1:
            continue
        other = {r.vram_total_bytes for r in per_card[named[0]] if r.vram_total_bytes}
        if sizes and other and sizes != other:
            continue
        per_card[named[0]].extend(per_card.pop(key))
        del tools[key]


def summarise_gpu(directory: Path) -> tuple[GpuMetrics, list[tuple[str, str]]]:
    """Aggregate every snapshot under `directory`; return metrics and (path, reason) failures."""
    per_card: dict[tuple[str, str], list[CardMetrics]] = {}
    tools: dict[tuple[str, str], str] = {}
    corrupt: list[tuple[str, str]] = []
    lost: list[LostGpu] = []
    snapshots = 0
    files = sorted(p for p in directory.iterdir()
                   if p.suffix.lower() in SUFFIXES) if directory.is_dir() else []
    for path in files:
        if not path.is_file():  # a FIFO would block the run forever, a device never end
            corrupt.append((str(path), "not a regular file"))
            continue
        try:
            snapshot = read_gpu_snapshot(path)
        except ValueError as exc:
            corrupt.append((str(path), str(exc)))
            continue
        snapshots += 1
        lost += [LostGpu(path=str(path), gpu=gpu, reason=why)
                 for gpu, why in snapshot.lost[:MAX_LOST - len(lost)]]
        tool = snapshot_tool(path, snapshot)
        for card in snapshot.cards:
            # "card0" on two machines is two GPUs: tell them apart by what identifies the GPU
            # (amd-smi's metric output names none: its VRAM size at least tells models apart).
            # A unique id with another name is another GPU too: collectors mask ids (the
            # public H100 and H200 captures both say GPU-00000000-0000-0000-0000-000000000000).
            identity = (f"{card.unique_id} {card.name or ''}" if card.unique_id
                        else card.name or (f"{card.vram_total_bytes} B VRAM"
                                           if card.vram_total_bytes else ""))
            per_card.setdefault((card.card, identity), []).append(card)
            tools.setdefault((card.card, identity), tool)
    _join_unnamed(per_card, tools)
    cards = []
    for key, readings in sorted(per_card.items()):
        name = key[0]
        clocks: dict[str, float] = {}
        for r in readings:
            for clock, mhz in r.clocks_mhz.items():
                clocks[clock] = max(mhz, clocks.get(clock, mhz))
        used = [r.vram_used_bytes for r in readings if r.vram_used_bytes is not None]
        totals = [r.vram_total_bytes for r in readings if r.vram_total_bytes is not None]
        cards.append(GpuCard(
            card=name, name=next((r.name for r in readings if r.name), None),
            uniqueId=next((r.unique_id for r in readings if r.unique_id), None),
            snapshots=len(readings),
            maxTemperatureEdgeC=_max([r.temperature_edge_c for r in readings]),
            maxTemperatureJunctionC=_max([r.temperature_junction_c for r in readings]),
            maxTemperatureMemoryC=_max([r.temperature_memory_c for r in readings]),
            meanPowerW=_mean([r.power_w for r in readings]),
            maxPowerW=_max([r.power_w for r in readings]),
            meanGpuUsePercent=_mean([r.gpu_use_percent for r in readings]),
            maxFanSpeedPercent=_max([r.fan_speed_percent for r in readings]),
            maxVramUsedBytes=max(used) if used else None,
            vramTotalBytes=max(totals) if totals else None,
            vendor="NVIDIA" if tools[key] == "nvidia-smi" else "AMD", source=tools[key],
            maxTemperatureGpuC=_max([r.temperature_gpu_c for r in readings]),
            powerLimitW=_max([r.power_cap_w for r in readings]), maxClocksMhz=clocks))
    return GpuMetrics(snapshotCount=snapshots, cards=cards, lostGpus=lost), corrupt
