"""The store's cache write and close run beside the building of the summary (`accumulate`):
their failures must still stop the summary from being written, and the store must be closed
whatever fails."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from clamp.telemetry import TemporalAggregator, summary_cache
from clamp.telemetry import aggregator as aggregator_module
from clamp.telemetry.store import TelemetryStore

from .conftest import record


def _root(make_root: Callable[..., Path]) -> Path:
    return make_root({f"s{i}.json": {"records": [record(j) for j in range(5)]}
                      for i in range(3)})


def _closes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every store close (by path), closing for real."""
    closed: list[Path] = []
    real = TelemetryStore.close

    def close(self: TelemetryStore) -> None:
        closed.append(self.path)
        real(self)

    monkeypatch.setattr(TelemetryStore, "close", close)
    return closed


def test_cache_write_failure_leaves_the_old_summary_and_closes_the_store(
        make_root: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    root = _root(make_root)
    TemporalAggregator().accumulate(root)
    out = root / "build" / "telemetry_summary.json"
    before = out.read_bytes()
    (root / "build" / "telemetry" / "s9.json").write_text(
        json.dumps({"records": [record(0)]}), encoding="utf-8")
    closed = _closes(monkeypatch)

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(summary_cache, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        TemporalAggregator().accumulate(root)
    assert out.read_bytes() == before
    assert closed == [root / "build" / "telemetry.duckdb"]


def test_close_failure_writes_no_summary(make_root: Callable[..., Path],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    root = _root(make_root)
    real = TelemetryStore.close

    def close(self: TelemetryStore) -> None:
        real(self)
        raise OSError("checkpoint failed")

    monkeypatch.setattr(TelemetryStore, "close", close)
    with pytest.raises(OSError, match="checkpoint failed"):
        TemporalAggregator().accumulate(root)
    assert not (root / "build" / "telemetry_summary.json").exists()


def test_build_failure_still_closes_the_store(make_root: Callable[..., Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = _root(make_root)
    closed = _closes(monkeypatch)

    def fail(*_: object) -> None:
        raise RuntimeError("build failed")

    monkeypatch.setattr(aggregator_module.TemporalAggregator, "_build", fail)
    with pytest.raises(RuntimeError, match="build failed"):
        TemporalAggregator().accumulate(root)
    assert closed == [root / "build" / "telemetry.duckdb"]
    assert not (root / "build" / "telemetry_summary.json").exists()


def test_read_failure_closes_the_store(make_root: Callable[..., Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root = _root(make_root)
    closed = _closes(monkeypatch)

    def fail(*_: object) -> None:
        raise RuntimeError("read failed")

    monkeypatch.setattr(aggregator_module.TemporalAggregator, "_read", fail)
    with pytest.raises(RuntimeError, match="read failed"):
        TemporalAggregator().accumulate(root)
    assert closed == [root / "build" / "telemetry.duckdb"]


def test_summary_is_the_same_run_after_run(make_root: Callable[..., Path]) -> None:
    """A cold run, a run with nothing new (all from the cache) and a cold run into another
    store give the same summary but for its time stamp."""
    root = _root(make_root)

    def doc(db: Path | None = None) -> dict[str, object]:
        TemporalAggregator(db=db).accumulate(root)
        out: dict[str, object] = json.loads(
            (root / "build" / "telemetry_summary.json").read_text())
        out.pop("generatedAt")
        return out

    first = doc()
    assert doc() == first
    assert doc(root / "other.duckdb") == first
