"""Numbers in session files as the origin's reader took them (nlohmann's is_number(), `std::stod`
for numeric strings), on both of clamp's paths: the fast path (DuckDB, number fields read as text
and cast in SQL) and the reference reader (`sessions.to_float`).

Found by running the origin's aggregator (test_origin_telemetry's oracle) on edge values: Python's
`float` also read `"1_0"` (10), Unicode digits and spaces (`"\u00a00.5"`), which stod does not;
DuckDB's reader, given DOUBLE, read `true` as 1.0, which neither the origin nor the reference
reader counted. Where clamp still differs from the origin, by design, is stated below.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clamp.telemetry.aggregator import TemporalAggregator
from clamp.telemetry.sessions import read_session_file, to_float
from clamp.telemetry.store import TelemetryStore
from clamp.telemetry.store_sql import _number

from .test_origin_telemetry import origin_aggregator, origin_summary

__all__ = ["origin_aggregator"]  # the module-scoped fixture, compiled once

_CON = duckdb.connect()


def _duck(text: str) -> float | None:
    (value,) = _CON.execute(f"SELECT {_number('$1')}", [text]).fetchone() or (None,)
    return value if value is None else float(value)


_ALPHABET = "0123456789.eE+-_ \t\n\x0b\x0c\rinfatyINFATYx,\u00a0\u0660"


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=10)
       | st.from_regex(r"\s*[+-]?[0-9]*\.?[0-9]*([eE][+-]?[0-9]*)?\s*", fullmatch=True))
def test_the_fast_paths_number_cast_reads_what_the_reference_reader_reads(text: str) -> None:
    ours, duck = to_float(text), _duck(text)
    if ours is None or duck is None:
        assert ours is None and duck is None, (text, ours, duck)
    else:
        assert ours == duck or (math.isnan(ours) and math.isnan(duck)), (text, ours, duck)


# A numeric string the origin's stod read as a whole, read the same way by clamp ...
STOD_AND_PYTHON = ['"0.5"', '" 0.5"', '"0.5 "', '"+0.5"', '"-0"', '"-0.0"', '".5"', '"5e-1"',
                   '"\\t0.5\\n"', '"1e0"', '-0.0', '5E-1', '0.5e0', '1.0000000000000000000001',
                   '0.99999999999999999999999', '1', '0', '"0"', '1e-400', '4.9e-324']
# ... and values neither counted: not numbers to nlohmann nor numeric to stod.
NEITHER = ['true', 'false', 'null', '[0.5]', '{"v": 0.5}', '""', '"\\u00a00.5"',
           '"\\u0660.\\u0665"', '"\\u00bd"', '"nan"', '"inf"', '"1e400"']
# By design clamp does not count what stod read from a prefix or in hex ("0.5abc": 0.5,
# "0_5": 0, "0x1p-1": 0.5): corrupt values, invalid records ("not numeric"), not numbers.
PREFIX_ONLY = ['"0.5abc"', '"0_5"', '"0,5"', '"0x1p-1"', '"1_0"']


def _file(score: str, duration: str = "1.5") -> str:
    return (f'{{"records": [{{"stability_score": {score}, "duration_ms": {duration}}}, '
            '{"stability_score": 0.25, "duration_ms": 3}]}')


def _both_paths_agree(root: Path) -> None:
    paths = sorted((root / "build" / "telemetry").glob("*.json"))
    with TelemetryStore(root / "t.duckdb") as store:
        store.sync(paths)
        fast = [(r[1], r[3], r[4], r[7]) if r[7] is None else (r[1], r[7])
                for r in store.record_rows()]
        scores = [s for (s,) in store.con.execute("SELECT stability_score FROM sessions")
                  .fetchall()]
    sessions = [read_session_file(p) for p in paths]
    ref = [(r.index, r.duration_ms, r.stability, r.reason) if r.reason is None
           else (r.index, r.reason) for session in sessions for r in session.records]
    assert fast == ref
    assert _canon(scores) == _canon([s.stability_score for s in sessions if s.records])


def _canon(values: list[Any]) -> list[Any]:
    return ["NaN" if isinstance(v, float) and math.isnan(v) else v for v in values]


def _root(tmp: Path, text: str) -> Path:
    root = Path(tempfile.mkdtemp(dir=tmp))
    (root / "build" / "telemetry").mkdir(parents=True)
    (root / "build" / "telemetry" / "a.json").write_text(text)
    return root


@pytest.mark.parametrize("score", STOD_AND_PYTHON + NEITHER)
def test_a_score_counts_as_the_origin_counted_it(origin_aggregator: Path, tmp_path: Path,
                                                 score: str) -> None:
    text = _file(score)
    theirs = origin_summary(origin_aggregator, _root(tmp_path, text))
    root = _root(tmp_path, text)
    ours = json.loads(TemporalAggregator(db=root / "s.duckdb").accumulate(root).to_json())
    for key in ("sessionCount", "meanStability", "variance", "driftPercentile"):
        if not (isinstance(theirs[key], float) and math.isnan(theirs[key])):
            assert ours[key] == pytest.approx(theirs[key], abs=5e-7), key
    _both_paths_agree(_root(tmp_path, text))


@pytest.mark.parametrize("score", PREFIX_ONLY)
def test_a_score_stod_read_from_a_prefix_is_not_numeric(tmp_path: Path, score: str) -> None:
    root = _root(tmp_path, _file(score))
    _both_paths_agree(root)
    reasons = [r.reason for r in read_session_file(root / "build" / "telemetry" / "a.json").records]
    assert reasons == ["stability_score missing or not numeric", None]


@pytest.mark.parametrize("duration", ['true', '"1_000"', '"2ms"', '"\\u00a02"', '" 2 "'])
def test_a_duration_not_read_as_a_number_is_dropped_on_both_paths(tmp_path: Path,
                                                                  duration: str) -> None:
    root = _root(tmp_path, _file("0.5", duration))
    _both_paths_agree(root)
    first = read_session_file(root / "build" / "telemetry" / "a.json").records[0]
    assert first.reason is None
    assert first.duration_ms == (2.0 if duration == '" 2 "' else None)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["stability_score", "duration_ms", "seed"]),
                          st.one_of(st.booleans(), st.sampled_from(
                              ["1_0", "0.5 ", "\u00a00.5", "0.5", 0.5, 1, "7", 7.5, None,
                               "true", [1], {"a": 1}, "inf", "-0", 2**70, "1e-400"]))),
                min_size=1, max_size=6))
def test_number_fields_of_every_json_type_agree_on_both_paths(tmp_path: Path,
                                                              fields: list[Any]) -> None:
    records = [{"stability_score": 0.5, "duration_ms": 1.0, "seed": 3, key: value}
               for key, value in fields]
    _both_paths_agree(_root(tmp_path, json.dumps({"stability_score": fields[0][1],
                                                  "records": records})))

