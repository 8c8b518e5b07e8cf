"""Fast generator of session files in the original telemetry format, for the benchmark.

Writes `files` session files holding `records` records in total under `out_dir`. String
formatting from precomputed pieces keeps it at a few microseconds per record; the content is
deterministic for a given seed so cold and incremental runs compare like with like.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

_DIGESTS = [f"sha256:{(f'{i:x}' * 64)[:64]}" for i in range(1, 5)]
_BACKENDS = ["hip", "opencl", "vulkan"]
_DEVICES = ["gfx90a", "gfx942", "gfx1100"]
_RECORD = ('{{"context":"ctx-{ctx}","seed":{seed},"thread_id":{tid},'
           '"acquired_at":"{acq}","released_at":"{rel}","duration_ms":{dur},'
           '"stability_score":{stab},"backend":"{backend}","deviceName":"{device}"}}')


def write_files(out_dir: Path, *, files: int, records: int, start_index: int = 0,
                seed: int = 0) -> list[Path]:
    """Write session files `start_index .. start_index+files-1`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    per_file = max(1, records // max(1, files))
    base = datetime(2025, 1, 1, tzinfo=UTC)
    paths: list[Path] = []
    for index in range(start_index, start_index + files):
        rng = random.Random(seed * 1_000_003 + index)
        backend = _BACKENDS[index % len(_BACKENDS)]
        device = _DEVICES[(index // 3) % len(_DEVICES)]
        # Sessions spread over ~40 days; the image changes every 10 days.
        start = base + timedelta(seconds=index * 3456 % (40 * 86400))
        digest = _DIGESTS[(start - base).days // 10 % len(_DIGESTS)]
        shift = 0.04 * ((start - base).days // 10)
        stamp = start.strftime("%Y-%m-%dT%H:%M:%S")
        parts = []
        for i in range(per_file):
            dur = round(rng.expovariate(1 / 40.0), 3)
            ms = i % 1000
            parts.append(_RECORD.format(
                ctx=i % 8, seed=rng.randrange(1, 2**31), tid=i % 16,
                acq=f"{stamp}.{ms:03d}Z", rel=f"{stamp}.{ms:03d}Z",
                dur=dur, stab=round(min(1.0, max(0.0, rng.gauss(0.9 - shift, 0.03))), 4),
                backend=backend, device=device))
        body = (f'{{"stability_score":{0.9 - shift:.3f},"backend":"{backend}",'
                f'"deviceName":"{device}","image":"ghcr.io/rocm/dev@{digest}",'
                f'"image_digest":"{digest}","records":[' + ",".join(parts) + "]}")
        path = out_dir / f"session-{index:06d}.json"
        path.write_text(body, encoding="utf-8")
        paths.append(path)
    return paths
