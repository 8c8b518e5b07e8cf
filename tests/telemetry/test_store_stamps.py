"""Timestamps on the store's fast path (DuckDB's cast, only for text of `STAMP_SHAPE`) against
the reference reader (`sessions.parse_timestamp`, every file read in Python): the same rows,
reasons, sessions, corrupt files and summaries, on input chosen to tell them apart.

Session 9 typed timestamps in DuckDB's JSON reader, whose parser also reads `epoch` and unpadded
fields; those records were valid on the fast path and invalid on the reference reader. These
tests now compare with the reference reader itself, so they fail on that code.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clamp.telemetry import TemporalAggregator, store_sql
from clamp.telemetry.sessions import parse_timestamp, read_session_file
from clamp.telemetry.store import TelemetryStore

from .conftest import record
from .test_store import sessions as session_docs

# Spellings the fast path settles itself (same instant as the reference reader's) ...
FAST_OK = ["2025-01-01T00:00:00Z", "2025-01-01T00:00:01.5+01:00", "2025-01-02 03:04:05",
           "2025-01-01T24:00:00Z", "2025-01-01T00:00:00.123456789Z",
           "2025-01-01T00:00:00.1234567Z", "2025-01-01T00:00:00.5-00:30",
           "2025-01-01T00:00:00+0130", "2025-01-01T00:00:01+01", "2025-01-01T00:00Z",
           "2025-01-01", "2024-02-29T00:00:00.000000Z",
           "9999-12-31T24:00:00Z", "9999-12-31T23:00:00-05:00",
           "0001-01-01T00:00:00+05:00", "9999-12-31T24:00+14:00"]
# ... and ones it leaves to the reference reader: zone names, spaces, text DuckDB reads but the
# reference reader refuses (`epoch`, `infinity`, unpadded fields, five-digit years, offsets of 24
# hours or more), text that is no time at all, and values that are not text.
REFERENCE = ["2025-01-01 00:30:00 Europe/Paris", "2025-01-01 00:00:00 EST",
             "2025-01-01 00:00:00 UTC", " 2025-01-01T00:00:00Z ", "bad", "", "epoch",
             "infinity", "-infinity", "2025-1-1T1:2:3Z", "2025-01-01T1:02:03Z", "2025-1-01",
             "02025-01-01", "-2025-01-01", "1-1-1", "2025-01-01T00:00:00+25:00",
             "2025-01-01T00:00:00+01:00:30", "2025-01-01T00:00:00z", "2025-01-01T00:00:00 +01:00",
             "294277-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "20250101", "2025-W01-1",
             "2025-01-01T00:00:00,5Z", "2025-02-29T00:00:00Z", "2025-01-01T00:00:60Z",
             "2025-01-01T25:00:00Z", 12345, 1.5, True, {"t": 1}, ["2025-01-01T00:00:00Z"]]


def _write(directory: Path, docs: dict[str, Any]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, doc in docs.items():
        path = directory / name
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
        paths.append(path)
    return sorted(paths)


def _contents(db: Path, paths: list[Path]) -> tuple[Any, ...]:
    """Everything the store holds about `paths`, in a reader-independent order, and how many
    files needed the reference reader."""
    with TelemetryStore(db) as store:
        fallback = store.sync(paths).fallback
        rows = store.record_rows()
        files = store.con.execute("SELECT path, status, reason FROM files ORDER BY path").fetchall()
        sessions = store.con.execute(
            "SELECT f.path, s.stability_score, s.backend, s.device, s.image, s.image_digest "
            "FROM sessions AS s JOIN files AS f USING (file_id) ORDER BY 1").fetchall()
        extra = store.con.execute(
            "SELECT f.path, r.idx, r.extra FROM records AS r JOIN files AS f USING (file_id) "
            "WHERE r.extra IS NOT NULL ORDER BY 1, 2").fetchall()
    return _canon(rows), files, _canon(sessions), extra, fallback


def _canon(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows with NaN spelled out: NaN equals nothing, itself included, in a comparison."""
    return [tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in row)
            for row in rows]


def _both(tmp_path: Path, paths: list[Path], monkeypatch: pytest.MonkeyPatch
          ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The store's contents read with the fast path, then with every file sent to the reference
    reader (every fast insert fails, as DuckDB failing on every file would)."""
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    fast = _contents(work / "fast.duckdb", paths)
    with monkeypatch.context() as patch:
        patch.setattr(TelemetryStore, "_insert",
                      lambda *_: duckdb.InvalidInputException("forced"))
        reference = _contents(work / "reference.duckdb", paths)
    assert reference[4] == len(paths)
    return fast, reference


def _reference(paths: list[Path]) -> list[tuple[Any, ...]]:
    expected = []
    for path in paths:
        for r in read_session_file(path).records:
            expected.append((str(path), r.index, r.acquired_at, r.duration_ms, r.stability,
                             r.backend, r.device, r.reason))
    return sorted(expected)


def _norm(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Values of invalid records are not used; compare reasons and valid values."""
    return [row if row[7] is None else (*row[:2], row[7]) for row in rows]


def test_ordinary_files_are_read_on_the_fast_path(tmp_path: Path) -> None:
    paths = _write(tmp_path / "t", {f"{i}.json": {"records": [record(i), record(i + 1)]}
                                    for i in range(3)})
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        assert store.sync(paths).fallback == 0
        assert len(store.record_rows()) == 6


@pytest.mark.parametrize("stamp", FAST_OK + REFERENCE, ids=repr)
def test_each_timestamp_spelling_is_stored_as_the_reference_reader_stores_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stamp: Any) -> None:
    """One spelling in acquired_at, one in released_at (with a valid partner each time), beside
    an ordinary file in the same batch: the same rows either way, as the reference reader's."""
    docs = {"a-plain.json": {"records": [record(1), record(2)]},
            "b-acquired.json": {"records": [record(3, acquired_at=stamp,
                                                    released_at="2025-01-01T00:00:00Z")]},
            "c-released.json": {"records": [record(4, released_at=stamp,
                                                    acquired_at="2025-01-01T00:00:00Z")]}}
    paths = _write(tmp_path / "t", docs)
    fast, reference = _both(tmp_path, paths, monkeypatch)
    assert _norm(fast[0]) == _norm(reference[0]) == _norm(_canon(_reference(paths)))
    assert fast[1:3] == reference[1:3]
    if stamp in FAST_OK:  # settled on the fast path, none left to the reference reader
        assert fast[4] == 0
    elif isinstance(stamp, str):
        assert fast[4] >= 1


def test_a_mixed_batch_stores_the_same_contents(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad timestamps, out-of-range values, zone names, duplicate sessions, corrupt files,
    several JSON values in one file, pretty-printed files and record-level labels together."""
    session = {"backend": "hip", "deviceName": "gfx90a", "stability_score": 0.9,
               "image_digest": "sha256:" + "a" * 64,
               "records": [record(i) for i in range(4)]}
    docs: dict[str, Any] = {
        "dup-1.json": session, "dup-2.json": session,  # the same session twice
        "offsets.json": {"records": [record(1, acquired_at="2025-01-01T01:00:00.25+01:00",
                                            released_at="2025-01-01T00:00:00.250001Z"),
                                     record(2, acquired_at="2025-01-01T00:00:00.5-00:30")]},
        "zone.json": {"records": [record(1, acquired_at="2025-01-01 00:30:00 Europe/Paris")]},
        "bad-ts.json": {"records": [record(1, acquired_at="yesterday"), record(2)]},
        "range.json": {"records": [record(1, released_at="10000-01-01T00:00:00Z"),
                                   record(2, acquired_at="0001-01-01T00:00:00+05:00"),
                                   record(3, stability_score=1.5), record(4, seed=0),
                                   record(5, duration_ms=-1), record(6, released_at="2024-01-01")]},
        "labels.json": {"backend": "hip", "records": [record(1, backend="opencl"),
                                                      record(2, deviceName="gfx942")]},
        "pretty.json": json.dumps({"records": [record(7)]}, indent=2),
        "two-values.json": json.dumps({"records": [record(1)]}) + "\n"
                           + json.dumps({"records": [record(2)]}) + "\n",
        "truncated.json": '{"records": [{"seed": 1',
        "not-object.json": "[1, 2]",
        "empty.json": "",
        "numbers.json": {"records": [record(1, acquired_at=1735689600)]},
        "epoch.json": {"records": [record(1, acquired_at="epoch"), record(2)]},
        "unpadded.json": {"records": [record(1, acquired_at="2025-1-1 1:2:3",
                                             released_at="2025-1-1 1:2:4")]},
    }
    paths = _write(tmp_path / "t", docs)
    fast, reference = _both(tmp_path, paths, monkeypatch)
    assert _norm(fast[0]) == _norm(reference[0]) == _norm(_canon(_reference(paths)))
    assert fast[1:3] == reference[1:3]
    corrupt = {Path(p).name for p, status, _ in fast[1] if status == "corrupt"}
    assert corrupt == {"truncated.json", "not-object.json", "empty.json", "two-values.json"}


def test_summaries_are_the_same_with_either_reader(make_root: Callable[..., Path],
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole summary (breakdowns, invalid counts, corrupt files, changes) is the same."""
    digests = ["sha256:" + c * 64 for c in "ab"]
    files: dict[str, Any] = {}
    for i in range(12):
        files[f"s{i:02d}.json"] = {
            "backend": ["hip", "opencl"][i % 2], "deviceName": "gfx90a",
            "image_digest": digests[i // 6], "stability_score": 0.8,
            "records": [record(j, acquired_at=f"2025-01-{1 + i:02d}T00:00:{j:02d}.{j}+01:00",
                               released_at=f"2025-01-{1 + i:02d}T00:00:{j:02d}.{j}+01:00",
                               duration_ms=10.0 + i + j / 7, stability_score=0.5 + j / 100)
                        for j in range(30)]}
    files["z-zone.json"] = {"records": [record(1, acquired_at="2025-01-03 00:00:00 EST",
                                                released_at="2025-01-03 00:00:01 EST")]}
    files["z-bad.json"] = {"records": [record(1, acquired_at="soon"), record(2),
                                       record(3, acquired_at="epoch"),
                                       record(4, released_at="2025-1-1T0:1:4Z")]}
    files["z-corrupt.json"] = '{"records": ['
    root = make_root(files)

    def summary(db: str) -> dict[str, Any]:
        out = json.loads(TemporalAggregator(db=tmp_path / db).accumulate(root).to_json())
        out.pop("generatedAt")
        return out

    fast = summary("fast.duckdb")
    with monkeypatch.context() as patch:
        patch.setattr(TelemetryStore, "_insert",
                      lambda *_: duckdb.InvalidInputException("forced"))
        reference = summary("reference.duckdb")
    assert fast == reference
    assert fast["corruptFiles"]["count"] == 1
    assert fast["invalidRecords"]["byReason"] == {"timestamp does not parse": 3}
    assert fast["changes"]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(session_docs, min_size=1, max_size=4))
def test_random_sessions_are_stored_alike_on_both_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docs: list[Any]) -> None:
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    paths = _write(work / "t", {f"{i}.json": doc for i, doc in enumerate(docs)})
    fast, reference = _both(work, paths, monkeypatch)
    assert _norm(fast[0]) == _norm(reference[0])  # an invalid record's values are not used
    assert fast[1:3] == reference[1:3]
    assert _extra(fast[3]) == _extra(reference[3])
    shutil.rmtree(work)


def _extra(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """`extra` columns as what they say: the two paths spell them differently (spacing, null
    keys written or left out)."""
    return [(*row[:2], {k: v for k, v in json.loads(row[2]).items() if v is not None})
            for row in rows]


_CON = duckdb.connect()
_CON.execute("SET TimeZone = 'UTC'")


@st.composite
def shaped_stamps(draw: st.DrawFn) -> str:
    """Text of `STAMP_SHAPE`, with field values at and past their edges (month 13, day 32,
    hour 24 and 25, second 60, long fractions, offsets up to 23:59)."""
    text = (draw(st.sampled_from(["2025", "0001", "9999", "1970", "2024", "0100"])) + "-"
            + draw(st.sampled_from(["01", "02", "12", "13", "00"])) + "-"
            + draw(st.sampled_from(["01", "28", "29", "30", "31", "32", "00"])))
    for sep, values in ((draw(st.sampled_from("T ")), ["00", "23", "24", "25"]),
                        (":", ["00", "59", "60"]), (":", ["00", "59", "60", "61"])):
        if not draw(st.booleans()):
            break
        text += sep + draw(st.sampled_from(values))
    else:
        if draw(st.booleans()):
            text += "." + draw(st.from_regex(r"[0-9]{1,12}",
                                                                     fullmatch=True))
    return text + draw(st.sampled_from(["", "Z", "+01", "-05:30", "+0130", "+23:59", "-12",
                                        "+14:00", "-00:01"]))


@settings(max_examples=400, deadline=None)
@given(shaped_stamps())
def test_within_the_shape_duckdb_and_the_reference_reader_agree(text: str) -> None:
    """What the fast path casts itself (text of `STAMP_SHAPE`): DuckDB's instant is the
    reference reader's, or DuckDB refuses (the file then goes to the reference reader), or
    the instant is outside the reference reader's range (invalid on both paths)."""
    assert re.fullmatch(store_sql.STAMP_SHAPE, text)
    (duck,) = _CON.execute("SELECT timezone('UTC', TRY_CAST(? AS TIMESTAMPTZ))",
                           [text]).fetchone() or (None,)
    if duck is not None and not isinstance(duck, str):  # text: a year DuckDB calls BC
        assert parse_timestamp(text) == duck


@pytest.mark.parametrize("text", ["0000-12-31T23:00-05:30", "0000-06-01", "0000-12-31T23:00Z"])
def test_year_zero_is_left_to_the_reference_reader(text: str) -> None:
    """DuckDB reads year 0000 (1 BC) and `0000-12-31T23:00-05:30` as 0001-01-01T04:30Z, an
    instant the reference reader refuses: valid on the fast path only (found by hypothesis).
    Year 0000 is outside the shape, so such text goes to the reference reader; its honest
    twin, year 0001, keeps the fast path."""
    assert re.fullmatch(store_sql.STAMP_SHAPE, text) is None
    assert parse_timestamp(text) is None
    twin = "0001" + text[4:]
    assert re.fullmatch(store_sql.STAMP_SHAPE, twin)
