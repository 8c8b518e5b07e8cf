"""Telemetry input that could exhaust memory, abort a run or make results depend on the store:
an oversized session file, a file name DuckDB cannot take, `samples` into a file or with too
many digests, and change attribution over the same files ingested in another order."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from clamp.cli.main import app, invoke
from clamp.exitcodes import ExitCode
from clamp.telemetry.aggregator import TemporalAggregator
from clamp.telemetry.sessions import MAX_SESSION, read_session_file
from clamp.telemetry.store import TelemetryStore


def _session(day: int, digest: str, rng: random.Random, records: int = 60) -> dict[str, Any]:
    out = []
    for i in range(records):
        second = rng.randrange(0, 80000)
        t = f"2025-01-{day:02d}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
        out.append({"seed": i + 1, "acquired_at": t, "released_at": t,
                    "duration_ms": round(rng.uniform(5, 50) * (1 + day % 2), 3),
                    "stability_score": round(rng.uniform(0.6, 1.0), 4)})
    return {"backend": "hip", "deviceName": "gfx90a", "image": f"r/x@{digest}",
            "image_digest": digest, "records": out}


def _corrupt(root: Path) -> dict[str, str]:
    summary = json.loads((root / "build" / "telemetry_summary.json").read_text())
    return {f["path"]: f["reason"] for f in summary["corruptFiles"]["files"]}


def test_an_oversized_session_file_is_counted_corrupt_never_read(tmp_path: Path) -> None:
    telemetry = tmp_path / "build" / "telemetry"
    telemetry.mkdir(parents=True)
    rng = random.Random(1)
    (telemetry / "honest.json").write_text(json.dumps(_session(1, "sha256:" + "a" * 64, rng)))
    big = telemetry / "big.json"
    with open(big, "wb") as handle:  # sparse: no disk, but stat and read see its size
        handle.truncate(MAX_SESSION + 1)
    summary = TemporalAggregator().accumulate(tmp_path)
    assert summary.sessionFileCount == 1  # the honest twin counts
    assert "larger than 64 MiB" in _corrupt(tmp_path)["big.json"]
    # The reference reader holds the same bound (a file that grows after stat).
    assert "larger than" in (read_session_file(big).corrupt or "")


def test_a_file_name_duckdb_cannot_take_is_counted_corrupt(tmp_path: Path) -> None:
    telemetry = tmp_path / "build" / "telemetry"
    telemetry.mkdir(parents=True)
    rng = random.Random(2)
    (telemetry / "honest.json").write_text(json.dumps(_session(1, "sha256:" + "a" * 64, rng)))
    bad = os.fsencode(str(telemetry)) + b"/s\xff.json"
    with open(bad, "wb") as handle:
        handle.write(json.dumps(_session(1, "sha256:" + "a" * 64, rng)).encode())
    summary = TemporalAggregator().accumulate(tmp_path)
    assert summary.sessionFileCount == 1
    assert _corrupt(tmp_path) == {"s\\xff.json": "file name is not UTF-8"}
    assert TemporalAggregator().accumulate(tmp_path).sessionFileCount == 1  # incrementally too


def test_samples_into_a_file_or_with_too_many_digests_is_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    digest = "sha256:" + "1" * 64
    (tmp_path / "afile").write_text("")
    assert invoke(app, ["telemetry", "samples", str(tmp_path / "afile"), "--digest", digest],
                  prog_name="clamp") == ExitCode.BAD_INPUT
    many = [arg for i in range(201) for arg in ("--digest", f"sha256:{i:064x}")]
    assert invoke(app, ["telemetry", "samples", str(tmp_path / "r"), *many],
                  prog_name="clamp") == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "internal error" not in err and err.count("error:") == 2
    assert invoke(app, ["telemetry", "samples", str(tmp_path / "r"), *many[:200]],
                  prog_name="clamp") == 0


def test_attribution_depends_on_the_session_files_alone(tmp_path: Path) -> None:
    """Two stores over the same files, ingested in different orders (so the store gives them
    different ids), give the same summary: the bootstrap sample must not hash store ids."""
    source = tmp_path / "files"
    source.mkdir()
    rng = random.Random(7)
    for day, digest in ((1, "a"), (2, "b")):  # > 400 records per side: the sample thins
        for k in range(12):
            (source / f"d{day}-{k:02d}.json").write_text(
                json.dumps(_session(day, f"sha256:{digest * 64}", rng)))
    names = sorted(p.name for p in source.iterdir())
    summaries = []
    for order in (names, names[::-1]):
        root = tmp_path / f"root-{order[0]}"
        telemetry = root / "build" / "telemetry"
        telemetry.mkdir(parents=True)
        aggregator = TemporalAggregator()
        for step in (order[:5], order[5:]):  # first batch first: its files get the low ids
            for name in step:
                shutil.copy2(source / name, telemetry / name)
            aggregator.accumulate(root)
        with TelemetryStore(root / "build" / "telemetry.duckdb") as store:
            ids = dict(store.con.execute("SELECT path, file_id FROM files").fetchall())
        summaries.append((json.loads((root / "build" / "telemetry_summary.json").read_text()),
                          {Path(p).name: i for p, i in ids.items()}))
    (first, ids_a), (second, ids_b) = summaries
    assert ids_a != ids_b  # the stores did number the files differently
    assert first["changes"] and first["changes"][0]["p95DurationShiftCI"] is not None
    assert first["changes"] == second["changes"]


def test_a_gpu_reading_padded_with_spaces_is_decided_at_once() -> None:
    """The quantity regexp had two `\\s*` around an optional unit: "1", 16,000 spaces and "a b"
    took 5 s and longer text grew with the cube of its length. Now it is a bounded, linear
    match; the honest twins still read."""
    from clamp.telemetry.amd_smi import _quantity

    assert _quantity("1" + " " * 200_000 + "a b") is None
    assert _quantity("1" + " " * 40 + "W") == (1.0, "w")
    assert _quantity(" 20 W ") == (20.0, "w") and _quantity("16368 MB") == (16368.0, "mb")
    assert _quantity({"value": "42", "unit": "%"}) == (42.0, "%")


def test_gpu_snapshots_that_are_not_regular_files_are_corrupt_not_a_hang(tmp_path: Path) -> None:
    gpu = tmp_path / "build" / "telemetry" / "gpu"
    gpu.mkdir(parents=True)
    os.mkfifo(gpu / "fifo.json")  # opening it would block forever
    (gpu / "zero.json").symlink_to("/dev/zero")  # reading it would never end
    (gpu / "dir.json").mkdir()
    TemporalAggregator().accumulate(tmp_path)
    corrupt = _corrupt(tmp_path)
    assert {corrupt[f"gpu/{n}.json"] for n in ("fifo", "zero", "dir")} == {"not a regular file"}
