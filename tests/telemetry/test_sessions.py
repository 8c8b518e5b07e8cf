"""The reference session reader: coercion rules, validity reasons, corrupt files."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.telemetry.sessions import (
    REASONS,
    check_record,
    digest_of,
    parse_session,
    parse_timestamp,
    read_session_file,
    to_float,
    to_int,
)

from .conftest import record

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


def test_numbers_as_strings_are_accepted() -> None:
    assert to_float("0.25") == 0.25 and to_float(" 3 ") == 3.0 and to_float(2) == 2.0
    assert to_float(True) is None and to_float("abc") is None and to_float([1]) is None
    assert to_int("12") == 12 and to_int(12.0) == 12 and to_int("1e3") == 1000
    assert to_int(1.5) is None and to_int("1.5") is None and to_int(False) is None


def test_timestamps_normalise_to_naive_utc() -> None:
    assert parse_timestamp("2025-01-01T02:00:00+02:00") == datetime(2025, 1, 1)
    assert parse_timestamp("2025-01-01T00:00:00Z") == datetime(2025, 1, 1)
    assert parse_timestamp("2025-01-01T00:00:00") == datetime(2025, 1, 1)
    assert parse_timestamp("yesterday") is None and parse_timestamp(5) is None


def test_each_rule_gives_its_reason() -> None:
    cases = {
        REASONS[0]: "not a record",
        REASONS[1]: record(stability_score="high"),
        REASONS[2]: record(stability_score=1.5),
        REASONS[5]: record(seed="x"),
        REASONS[6]: record(seed=0),
        REASONS[7]: record(acquired_at="2025-13-45"),
        REASONS[8]: record(released_at="2024-12-31T23:59:59Z"),
    }
    for reason, raw in cases.items():
        assert check_record(raw)[0] == reason
    # the origin's rules: a bad duration is dropped, the record still counts
    for raw in (record(duration_ms="slow"), record(duration_ms=-1)):
        assert check_record(raw)[0] is None and check_record(raw)[2] is None
    assert check_record(record())[0] is None
    assert check_record(record(seed="7", duration_ms="0", stability_score="1"))[0] is None


def test_session_fields_and_device_name_variants(tmp_path: Path) -> None:
    doc = {"stability_score": "0.9", "backend": "hip", "device_name": "gfx942",
           "image": "ghcr.io/rocm/dev@sha256:" + "A" * 64,
           "records": [record(0), record(1, deviceName=None, device_name="gfx1100"),
                       record(2, deviceName=None, backend=None)]}
    session = parse_session(doc, tmp_path / "s.json")
    assert session.corrupt is None and session.stability_score == 0.9
    assert session.device == "gfx942" and session.image_digest == "sha256:" + "a" * 64
    assert [r.device for r in session.records] == ["gfx90a", "gfx1100", "gfx942"]
    assert session.records[2].backend == "hip"


def test_digest_prefers_image_digest_over_image() -> None:
    assert digest_of("x@sha256:" + "1" * 64, "sha256:" + "2" * 64) == "sha256:" + "2" * 64
    assert digest_of("ghcr.io/rocm/dev:6.4", None) is None


def test_corrupt_files_are_described(tmp_path: Path) -> None:
    cases = {"empty.json": b"", "trunc.json": b'{"records": [{"seed": 1',
             "list.json": b"[1, 2]", "norecs.json": b'{"records": "x"}',
             "binary.json": b"\xff\xfe\x00garbage", "extra.json": b'{"records": []} {"a": 1}'}
    reasons = {}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        reasons[name] = read_session_file(tmp_path / name).corrupt
    assert reasons["empty.json"] == "empty file"
    assert reasons["trunc.json"] is not None and reasons["trunc.json"].startswith("truncated")
    assert reasons["list.json"] == "top level is not a JSON object"
    assert reasons["norecs.json"] == "no records list"
    assert all(reasons.values()), reasons
    assert read_session_file(tmp_path / "missing.json").corrupt is not None


@given(json_values)
def test_parse_session_never_raises(document: Any) -> None:
    session = parse_session(document, Path("x.json"))
    assert (session.corrupt is None) == (isinstance(document, dict)
                                         and isinstance(document.get("records"), list))


@given(st.dictionaries(st.sampled_from(["seed", "duration_ms", "stability_score",
                                        "acquired_at", "released_at"]), json_values))
def test_check_record_never_raises_and_valid_means_in_range(raw: dict[str, Any]) -> None:
    reason, stability, duration, _ = check_record(raw)
    assert reason is None or reason in REASONS
    if reason is None:
        assert stability is not None and 0.0 <= stability <= 1.0
        assert duration is None or (math.isfinite(duration) and duration >= 0)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_to_float_round_trips_text(value: float) -> None:
    assert to_float(json.dumps(value)) == value
    assert to_float(repr(value)) == value


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)))
def test_timestamp_round_trip(moment: datetime) -> None:
    assert parse_timestamp(moment.isoformat() + "Z") == moment


@pytest.mark.parametrize("text", [
    "2025-01-01T00:00:00.123456789Z", "2025-01-01 00:00:00 UTC", "2025-01-01 00:00:00 utc",
    "2025-01-01T24:00:00Z", "2025-01-01 24:00", "2025-01-01T24:00:00+02:00",
    "2025-01-01T24:00:01Z", "2025-01-01 00:00:00 Europe/Paris", "2025-07-01 12:00:00 EST",
    "2025-07-01 12:00:00 America/New_York", "2025-01-01 00:00:00 +0000 UTC",
    "2025-01-01T00:00:00Z UTC", "2025-01-01 00:00:00 Nowhere/Land", "2025-01-01 foo",
    "2025-01-01T00:00:00.5-01", "2025-01-01"])
def test_timestamps_read_as_the_fast_path_reads_them(text: str) -> None:
    """The reference reader and DuckDB's TIMESTAMPTZ cast (the store's fast path) give the same
    instant, or both refuse."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    (duck,) = con.execute("SELECT timezone('UTC', TRY_CAST(? AS TIMESTAMPTZ))",
                          [text]).fetchone()
    assert parse_timestamp(text) == duck


@pytest.mark.parametrize("text", ["9999-12-31T24:00:00Z", "9999-12-31T23:00:00-05:00",
                                  "0001-01-01T00:00:00+05:00", "10000-01-01T00:00:00Z"])
def test_timestamps_outside_pythons_range_do_not_parse(text: str) -> None:
    """Past year 9999 (or before year 1) once in UTC: no datetime, so the record is invalid
    ("timestamp missing or does not parse"), on both paths (test_store's property test)."""
    assert parse_timestamp(text) is None


def test_a_number_past_pythons_digit_limit_is_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"stability_score": ' + "9" * 100_000 + ', "records": []}')
    assert read_session_file(path).corrupt == "JSON number too long"
