"""The summary cache: an incremental accumulate gives exactly what a cold one gives.

Every step below changes ROOT the way a CI history does (files added, one rewritten, one
removed, new evidence, another window width, nothing at all) and compares the summary from the
long-lived store with one from a fresh store, every figure equal, not approximately equal.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from clamp.telemetry import TemporalAggregator, summary_cache
from clamp.telemetry.store import TelemetryStore

from .conftest import DIGESTS, provenance_doc

BACKENDS = ["hip", "opencl", "cpu"]
DEVICES = ["gfx90a", "gfx942"]


def _session(rng: random.Random, index: int) -> dict[str, Any]:
    """A session of one image on one backend and device, some records around midnight (two
    windows of 1d), some without a duration, some invalid, some naming another backend."""
    day = rng.randrange(6)
    digest = DIGESTS[min(2, day // 2)]
    records = []
    for i in range(rng.randrange(1, 40)):
        hour = rng.choice([23, 23, 0]) if index % 4 == 0 else rng.randrange(1, 22)
        stamp = f"2025-01-{day + 1 + (hour == 0):02d}T{hour:02d}:{i % 60:02d}:00Z"
        rec: dict[str, Any] = {"acquired_at": stamp, "released_at": stamp,
                               "duration_ms": round(rng.expovariate(1 / (30 + 10 * day)), 3),
                               "stability_score": round(rng.uniform(0.7, 1.0), 4)}
        if rng.random() < 0.1:
            del rec["duration_ms"]
        if rng.random() < 0.05:
            rec["stability_score"] = 1.5
        if rng.random() < 0.05:
            rec["backend"] = "vulkan"
        records.append(rec)
    return {"stability_score": 0.9, "backend": BACKENDS[index % 3],
            "deviceName": DEVICES[index % 2], "image": f"ghcr.io/rocm/dev@{digest}",
            "image_digest": digest, "records": records}


def _summary(root: Path, db: Path, window: str = "1d") -> dict[str, Any]:
    doc = json.loads(TemporalAggregator(window=window, db=db).accumulate(root).to_json())
    doc.pop("generatedAt")
    return doc  # type: ignore[no-any-return]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_summaries_equal_cold_ones(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    root = tmp_path / "root"
    tdir = root / "build" / "telemetry"
    tdir.mkdir(parents=True)
    kept = tmp_path / "kept" / "telemetry.duckdb"
    count = 0

    def add(n: int) -> None:
        nonlocal count
        for _ in range(n):
            (tdir / f"s{count:03d}.json").write_text(json.dumps(_session(rng, count)))
            count += 1

    def check(step: str, window: str = "1d") -> None:
        fresh = tmp_path / f"fresh-{step}" / "telemetry.duckdb"
        assert _summary(root, kept, window) == _summary(root, fresh, window), step

    add(24)
    check("first")
    add(3)
    check("added")
    check("unchanged")
    (tdir / f"s{count:03d}.json").write_text(json.dumps(
        {**_session(rng, count), "backend": "cuda", "deviceName": "a100"}))
    count += 1
    check("a new backend and device")
    (root / "build" / "rocm_provenance.json").write_text(json.dumps(
        provenance_doc({DIGESTS[0]: "valid", DIGESTS[1]: "invalid"})))
    check("new evidence")
    add(2)
    check("added under evidence")
    (tdir / "s005.json").write_text(json.dumps(_session(rng, 5)))
    check("rewritten")
    (tdir / "s007.json").unlink()
    check("removed")
    check("another width", "6h")
    add(1)
    check("added at that width", "6h")


def test_the_cache_is_used_and_dropped_when_rows_go(tmp_path: Path) -> None:
    """After a summary the cache is valid; a deleted file's rows drop it."""
    rng = random.Random(7)
    root = tmp_path / "root"
    tdir = root / "build" / "telemetry"
    tdir.mkdir(parents=True)
    for i in range(6):
        (tdir / f"s{i}.json").write_text(json.dumps(_session(rng, i)))
    db = tmp_path / "t.duckdb"
    TemporalAggregator(db=db).accumulate(root)
    with TelemetryStore(db) as store:
        assert store.con.execute("SELECT value FROM cache_meta").fetchall() == [
            ("86400000000",)]
        assert store.con.execute("SELECT count(*) FROM cache_cells").fetchone() != (0,)
        (tdir / "s0.json").unlink()
        store.sync(sorted(str(p) for p in tdir.glob("*.json")))
        assert store.con.execute("SELECT count(*) FROM cache_meta").fetchone() == (0,)


def test_an_interrupted_cache_write_is_not_trusted(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stopped after the new cells went in but before the cache was marked valid leaves
    it invalid: the next summary recomputes everything and equals a cold one."""
    rng = random.Random(9)
    root = tmp_path / "root"
    tdir = root / "build" / "telemetry"
    tdir.mkdir(parents=True)
    for i in range(8):
        (tdir / f"s{i}.json").write_text(json.dumps(_session(rng, i)))
    db = tmp_path / "t.duckdb"
    TemporalAggregator(db=db).accumulate(root)
    (tdir / "s8.json").write_text(json.dumps(_session(rng, 8)))

    def crash(*_: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(summary_cache, "save", crash)
        with pytest.raises(KeyboardInterrupt):
            TemporalAggregator(db=db).accumulate(root)
    assert _summary(root, db) == _summary(root, tmp_path / "fresh.duckdb")


def test_the_first_record_naming_another_backend_arrives_later(tmp_path: Path) -> None:
    """Cells cached while no record named its own backend or device have no such labels; a
    later file whose records do makes the breakdowns read them, and the old cells still hold."""
    rng = random.Random(11)
    root = tmp_path / "root"
    tdir = root / "build" / "telemetry"
    tdir.mkdir(parents=True)
    for i in range(10):
        doc = _session(rng, i)
        for rec in doc["records"]:
            rec.pop("backend", None)
        (tdir / f"s{i}.json").write_text(json.dumps(doc))
    kept = tmp_path / "kept.duckdb"
    _summary(root, kept)
    doc = _session(rng, 10)
    doc["records"][0]["backend"] = "vulkan"
    doc["records"][0]["deviceName"] = "gfx1100"
    (tdir / "s10.json").write_text(json.dumps(doc))
    summary = _summary(root, kept)
    assert "vulkan" in [g["key"] for g in summary["breakdown"]["byBackend"]]
    assert summary == _summary(root, tmp_path / "fresh.duckdb")
