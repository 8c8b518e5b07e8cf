"""Deterministic sample sessions for the demo and the tests.

`write_sample_sessions(root, digests)` writes, under ROOT/build/telemetry/, three daily sessions
per image digest (in the order given), so with `--window 1d` every digest boundary is a change
between consecutive windows. Each later image shifts mean stability down and durations up, so
change attribution has something real to find. For the corrupt-input paths it also writes one
truncated file and a few invalid records (a seed of 0, a stability score of 1.7, a timestamp
running backwards), uses numbers-as-strings and `device_name` in places, as real producers do,
and two `rocm-smi --json`-style GPU snapshots under gpu/ beside one `nvidia-smi --query-gpu`
CSV snapshot of an NVIDIA runner (a mixed fleet).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_BASE = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
_SESSIONS_PER_DIGEST = 3
_RECORDS = 100  # 25 a (backend, device) stratum: enough for a like-with-like p95 (MIN_P95_SAMPLE)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _session(rng: random.Random, day: int, digest: str, image_no: int,
             strings: bool) -> dict[str, Any]:
    start = _BASE + timedelta(days=day)
    backend = ("hip", "opencl")[day % 2]
    device = ("gfx90a", "gfx942")[image_no % 2]
    mean = 0.93 - 0.06 * image_no
    records = []
    for i in range(_RECORDS):
        acquired = start + timedelta(seconds=30 * i)
        duration = round(rng.lognormvariate(3.4 + 0.25 * image_no, 0.35), 3)
        stability = round(min(1.0, max(0.0, rng.gauss(mean, 0.02))), 4)
        record: dict[str, Any] = {
            "context": f"kernel-{i % 5}", "seed": rng.randrange(1, 2**31),
            "thread_id": i % 4, "acquired_at": _iso(acquired),
            "released_at": _iso(acquired + timedelta(milliseconds=duration)),
            "duration_ms": duration, "stability_score": stability,
            # Every session mixes backends and devices, as a shared runner pool does, so each
            # image change can be compared like with like (clamp.telemetry.stratified).
            "backend": ("hip", "opencl")[(i + day) % 2],
            "deviceName": ("gfx90a", "gfx942")[(i // 2 + image_no) % 2]}
        if strings and i % 3 == 0:
            for key in ("seed", "duration_ms", "stability_score", "thread_id"):
                record[key] = str(record[key])
        records.append(record)
    session: dict[str, Any] = {
        "stability_score": str(mean) if strings else mean, "backend": backend,
        "image": f"ghcr.io/rocm/dev@{digest}", "image_digest": digest, "records": records}
    session["device_name" if strings else "deviceName"] = device
    return session


def _gpu_snapshot(index: int) -> dict[str, Any]:
    return {"card0": {
        "Device Name": "Aldebaran/MI200 [Instinct MI210]", "Card Series": "AMD Instinct MI210",
        "Temperature (Sensor edge) (C)": f"{41.0 + 3 * index:.1f}",
        "Temperature (Sensor junction) (C)": f"{44.0 + 3 * index:.1f}",
        "Temperature (Sensor memory) (C)": "N/A",
        "Average Graphics Package Power (W)": f"{88.0 + 11 * index:.1f}",
        "GPU use (%)": str(60 + 10 * index), "GPU Memory Allocated (VRAM%)": "31",
        "VRAM Total Memory (B)": "68702699520", "VRAM Total Used Memory (B)": str(
            21000000000 + 1000000000 * index),
        "sclk clock speed:": "(1700Mhz)", "mclk clock speed:": "(1600Mhz)"},
        "system": {"Driver version": "6.8.5"}}


_NVIDIA_SNAPSHOT = (
    "index, uuid, name, temperature.gpu, power.draw [W], power.limit [W], utilization.gpu [%], "
    "utilization.memory [%], memory.used [MiB], memory.total [MiB], fan.speed [%], "
    "clocks.gr [MHz], clocks.sm [MHz], clocks.mem [MHz]\n"
    "0, GPU-5a1e0000-0000-4000-8000-000000000001, NVIDIA L4, 58, 61.20 W, 72.00 W, 87 %, 41 %, "
    "17022 MiB, 23034 MiB, [N/A], 2040 MHz, 2040 MHz, 6250 MHz\n")


def write_sample_sessions(root: Path, digests: list[str], *, seed: int = 0) -> list[Path]:
    """Write the sample sessions under ROOT/build/telemetry/ and return their paths."""
    out_dir = Path(root) / "build" / "telemetry"
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths: list[Path] = []
    day = 0
    for image_no, digest in enumerate(digests):
        for k in range(_SESSIONS_PER_DIGEST):
            session = _session(rng, day, digest, image_no, strings=(k == 1))
            if image_no == 0 and k == 0:
                session["records"][3]["seed"] = 0
                session["records"][7]["stability_score"] = 1.7
            if image_no == 0 and k == 2:
                rec = session["records"][5]
                rec["released_at"], rec["acquired_at"] = rec["acquired_at"], rec["released_at"]
            path = out_dir / f"session-{day:03d}.json"
            path.write_text(json.dumps(session, indent=1) + "\n", encoding="utf-8")
            paths.append(path)
            day += 1
    corrupt = out_dir / f"session-{day:03d}-truncated.json"
    text = json.dumps(_session(rng, day, digests[-1] if digests else "sha256:" + "0" * 64,
                               len(digests), strings=False))
    corrupt.write_text(text[: len(text) // 2], encoding="utf-8")
    paths.append(corrupt)
    gpu_dir = out_dir / "gpu"
    gpu_dir.mkdir(exist_ok=True)
    for index in range(2):
        (gpu_dir / f"rocm-smi-{index}.json").write_text(
            json.dumps(_gpu_snapshot(index), indent=4) + "\n", encoding="utf-8")
    (gpu_dir / "nvidia-smi-0.csv").write_text(_NVIDIA_SNAPSHOT, encoding="utf-8")
    return paths
