"""The DuckDB store: incremental ingest, and the fast SQL path agreeing with the Python reader."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clamp.errors import BadInputError
from clamp.telemetry.sessions import read_session_file
from clamp.telemetry.store import TelemetryStore

from .conftest import record


def _rows(store: TelemetryStore) -> list[tuple[Any, ...]]:
    """Stored records, timestamps as naive UTC like the reference reader's."""
    return store.record_rows()


def test_unchanged_file_is_not_read_again(make_root: Callable[..., Path],
                                          tmp_path: Path) -> None:
    root = make_root({"a.json": {"records": [record(i) for i in range(5)]},
                      "b.json": {"records": [record(1)]}})
    files = sorted((root / "build" / "telemetry").glob("*.json"))
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        first = store.sync(files)
        assert (first.ingested, first.unchanged) == (2, 0)
        before = _rows(store)
    # Same size and mtime but different bytes: only a re-read could notice.
    a = files[0]
    st_a = a.stat()
    a.write_bytes(b"x" * st_a.st_size)
    os.utime(a, ns=(st_a.st_atime_ns, st_a.st_mtime_ns))
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        second = store.sync(files)
        assert (second.ingested, second.unchanged) == (0, 2)
        assert _rows(store) == before


def test_changed_file_replaces_rows_and_deleted_file_is_dropped(
        make_root: Callable[..., Path], tmp_path: Path) -> None:
    root = make_root({"a.json": {"records": [record(i) for i in range(5)]},
                      "b.json": {"records": [record(1)]}})
    tdir = root / "build" / "telemetry"
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        store.sync(sorted(tdir.glob("*.json")))
        (tdir / "a.json").write_text(json.dumps({"records": [record(9, duration_ms=99)]}))
        os.utime(tdir / "a.json", ns=(1, 2))  # a different mtime even on coarse clocks
        (tdir / "b.json").unlink()
        stats = store.sync(sorted(tdir.glob("*.json")))
        assert (stats.ingested, stats.removed) == (1, 1)
        rows = _rows(store)
        assert [(Path(r[0]).name, r[1], r[3]) for r in rows] == [("a.json", 1, 99.0)]
        assert store.con.execute("SELECT count(*) FROM sessions").fetchone() == (1,)
        assert store.con.execute("SELECT count(*) FROM files").fetchone() == (1,)


def test_bad_file_in_a_batch_is_isolated(make_root: Callable[..., Path], tmp_path: Path) -> None:
    files = {f"s{i:02d}.json": {"records": [record(i)]} for i in range(9)}
    files["s04.json"] = '{"records": [{"seed": 1'
    files["s06.json"] = {"records": ["text", record(1, duration_ms="fast")]}
    root = make_root(files)
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        stats = store.sync(sorted((root / "build" / "telemetry").glob("*.json")))
        assert stats.fallback == 2
        status = {Path(p).stem: s for p, s in
                  store.con.execute("SELECT path, status FROM files").fetchall()}
        assert status["s04"] == "corrupt" and status["s06"] == "ok"
        reasons = [r[7] for r in _rows(store) if r[7]]
        assert sorted(reasons) == ["record is not an object"]  # a bad duration is dropped


labels = st.sampled_from(["hip", "opencl", "", "gfx90a"]) | st.none()
numbers = st.one_of(st.floats(-2, 3, allow_nan=False), st.integers(-5, 5),
                    st.floats(-2, 3, allow_nan=False).map(str),
                    st.sampled_from(["nan", "inf", "-inf", "1e300", "-0.0"]), st.none())
stamps = st.one_of(st.just("2025-01-01T00:00:00Z"), st.just("2025-01-01T00:00:01.5+01:00"),
                   st.just("2025-01-02 03:04:05"), st.just("bad"), st.none(),
                   st.sampled_from(["2025-01-01 00:00:00 UTC", "2025-01-01T24:00:00Z",
                                    "2025-01-01 00:30:00 Europe/Paris",
                                    "2025-01-01T00:00:00.123456789Z",
                                    # past Python's datetime range once in UTC
                                    "9999-12-31T24:00:00Z", "10000-01-01T00:00:00Z",
                                    "9999-12-31T23:00:00-05:00",
                                    "0001-01-01T00:00:00+05:00"]))
overrides = st.fixed_dictionaries({}, optional={
    "seed": st.one_of(st.integers(-3, 3), st.integers(-3, 3).map(str),
                      st.sampled_from([2.5, 1e300, "inf", "nan", "4.0"])),
    "duration_ms": numbers, "stability_score": numbers, "acquired_at": stamps,
    "released_at": stamps, "backend": labels, "deviceName": labels, "device_name": labels,
    "context": st.text(max_size=3)})
# Mostly-valid records with a few fields replaced, so both valid and invalid rows are common.
records = st.builds(lambda i, over: {**record(i), **over}, st.integers(0, 50), overrides) | (
    st.just("not an object"))
sessions = st.fixed_dictionaries({"records": st.lists(records, max_size=6)}, optional={
    "backend": labels, "deviceName": labels, "device_name": labels,
    "stability_score": numbers, "image_digest": st.just("sha256:" + "f" * 64)})


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(sessions, min_size=1, max_size=4))
def test_fast_path_agrees_with_reference_reader(tmp_path: Path, docs: list[Any]) -> None:
    """Whatever path DuckDB takes for a file, the stored rows equal the Python reader's."""
    work = Path(tempfile.mkdtemp(dir=tmp_path))  # tmp_path is shared by all examples
    paths = []
    for i, doc in enumerate(docs):
        paths.append(work / f"{i}.json")
        paths[-1].write_text(json.dumps(doc))
    with TelemetryStore(work / "t.duckdb") as store:
        store.sync(paths)
        got = _rows(store)
    expected = []
    for path in paths:
        session = read_session_file(path)
        for r in session.records:
            expected.append((str(path), r.index, r.acquired_at, r.duration_ms, r.stability,
                             r.backend, r.device, r.reason))

    def norm(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        # Values of invalid records are not used; compare reasons and valid values.
        return [row if row[7] is None else (*row[:2], row[7]) for row in rows]

    assert norm(got) == norm(sorted(expected))
    VALID_SEEN.append(sum(1 for row in got if row[7] is None))


VALID_SEEN: list[int] = []


def test_equivalence_test_saw_valid_records() -> None:
    """Guard against the property test above passing vacuously."""
    if VALID_SEEN:
        assert sum(VALID_SEEN) > 0


def test_boundaries_on_the_fast_path(tmp_path: Path) -> None:
    """Edge values that the SQL rules must classify exactly like `sessions.check_record`."""
    edge = [record(1, released_at=record(1)["acquired_at"]), record(2, stability_score=0),
            record(3, stability_score="1"), record(4, duration_ms=0), record(5, seed="0"),
            record(6, seed=-4), record(7, stability_score=1.0000001), record(8, seed=2.5)]
    path = tmp_path / "edge.json"
    path.write_text(json.dumps({"records": edge}))
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        assert store.sync([path]).fallback == 0  # all of these take the fast path
        reasons = [row[7] for row in _rows(store)]
    assert reasons == [None, None, None, None, "seed is 0", None,
                       "stability_score outside [0, 1]", "seed not an integer"]
    assert reasons == [r.reason for r in read_session_file(path).records]


def test_pretty_printed_and_compact_files_both_take_the_fast_path(tmp_path: Path) -> None:
    paths = []
    for i, indent in enumerate([None, 2, None, 4]):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps({"records": [record(i), record(i + 1)]}, indent=indent))
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        stats = store.sync(paths)
        assert (stats.ingested, stats.fallback) == (4, 0)
        assert len(_rows(store)) == 8


def test_interrupted_ingest_is_redone_without_duplicates(make_root: Callable[..., Path],
                                                         tmp_path: Path) -> None:
    root = make_root({"a.json": {"records": [record(i) for i in range(3)]}})
    files = sorted((root / "build" / "telemetry").glob("*.json"))
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        store.sync(files)
        # What a crash between "pending" and "done" leaves behind.
        store.con.execute("UPDATE files SET status = 'pending', size = -1")
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        assert store.sync(files).ingested == 1
        assert len(_rows(store)) == 3
        assert store.con.execute("SELECT count(*) FROM sessions").fetchone() == (1,)


def test_old_store_layout_is_rebuilt(make_root: Callable[..., Path], tmp_path: Path) -> None:
    root = make_root({"a.json": {"records": [record(1)]}})
    files = sorted((root / "build" / "telemetry").glob("*.json"))
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        store.sync(files)
        store.con.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        assert store.sync(files).ingested == 1 and len(_rows(store)) == 1


def test_garbage_store_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "t.duckdb"
    bad.write_bytes(b"not a database" * 1000)
    with pytest.raises(BadInputError, match="delete it to rebuild"):
        TelemetryStore(bad)


def test_without_a_writable_temp_dir_the_declared_reader_is_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The detected reader needs a temp schema file; without one, ingest still takes a fast path
    and stores the same rows."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-dir"))
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps({"records": [record(i), record(i + 1, seed=0)]}))
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        assert store.sync(paths).fallback == 0
        reasons = [row[7] for row in _rows(store)]
    assert reasons == [None, "seed is 0"] * 3


def test_file_names_with_glob_characters_are_read_as_themselves(tmp_path: Path) -> None:
    """DuckDB expands `*`, `?` and `[...]` in paths: `a[1].json` must not read `a1.json`."""
    names = ["a[1].json", "a1.json", "b*.json", "bx.json", "c?.json", "cd.json"]
    paths = []
    for i, name in enumerate(names):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps({"records": [record(j) for j in range(i + 1)]}))
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        assert store.sync(paths).fallback == 0
        counts: dict[str, int] = {}
        for row in _rows(store):
            counts[Path(row[0]).name] = counts.get(Path(row[0]).name, 0) + 1
    assert counts == {name: i + 1 for i, name in enumerate(names)}


def test_a_file_past_duckdbs_default_value_limit_takes_the_fast_path(tmp_path: Path) -> None:
    from clamp.telemetry import store_sql

    one = json.dumps(record(1))
    count = store_sql.DEFAULT_MAX_OBJECT // len(one) + 1000
    big = tmp_path / "big.json"
    big.write_text('{"records": [' + ",".join([one] * count) + "]}")
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"records": [record(2)]}))
    assert big.stat().st_size > store_sql.DEFAULT_MAX_OBJECT
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        stats = store.sync([big, small])
        assert (stats.ingested, stats.fallback) == (2, 0)
        assert store.con.execute("SELECT count(*) FROM records").fetchone() == (count + 1,)


def _without(rec: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in keys}


def test_origin_record_rules_agree_on_both_paths(make_root: Callable[..., Path],
                                                 tmp_path: Path) -> None:
    """The origin's optional fields (issue 14): the fast SQL path and the reference reader
    store the same rows and reasons, and the fast path settles them itself."""
    records = [
        _without(record(1), "seed", "context", "thread_id"),            # counts
        _without(record(2), "acquired_at", "released_at"),              # counts, no window
        record(3, released_at=None),                                    # in flight: counts
        _without(record(4), "duration_ms"),                             # counts, no duration
        record(5, duration_ms=-3.0),                                    # duration dropped
        {"stability_score": "0.25"},                                    # the bare minimum
        record(6, seed=0),                                              # invalid: seed 0
        record(7, stability_score=1.5),                                 # invalid: outside
        record(8, released_at="2024-12-31T00:00:00Z"),                  # invalid: order
        record(9, seed=None),                                           # counts
    ]
    root = make_root({"a.json": {"records": records}})
    path = root / "build" / "telemetry" / "a.json"
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        assert store.sync([path]).fallback == 0
        got = _rows(store)
    ref = read_session_file(path)
    expected = [(str(path), r.index, r.acquired_at, r.duration_ms, r.stability, r.backend,
                 r.device, r.reason) for r in ref.records]
    assert got == expected
    reasons = [row[7] for row in got]
    assert reasons == [None] * 6 + ["seed is 0", "stability_score outside [0, 1]",
                                    "released_at before acquired_at", None]
    assert [row[3] for row in got][3:5] == [None, None]  # missing and negative durations
