"""Session files at the edges of JSON, against the origin's own aggregator (nlohmann/json), on
both of clamp's paths (the DuckDB fast path and the reference reader).

Found by running the origin's TemporalAggregator (test_origin_telemetry's oracle) on crafted
files. Before:
- `NaN`, `Infinity` and `-Infinity` (what Python's `json.dumps` writes for a NaN score) are not
  JSON: nlohmann refused the whole file, while both of clamp's readers counted its other records;
- a lone surrogate escape (`"\\ud800"`) — nlohmann refused the file; clamp's reference reader
  took it and the run then crashed storing the string (DuckDB takes only UTF-8);
- UTF-16 and UTF-32 files — nlohmann reads UTF-8 only; Python's `json.loads` of bytes detects
  them, so clamp counted such a file;
- a second JSON value without records after the session (`{...} {}`, `{...}\\n{"records": []}`)
  — the fast path counted the first value's records (it told several values apart only by their
  first records), where the reference reader and the origin refuse the file;
- a NUL byte after the document (a zero-padded tail, as a crash leaves one) — nlohmann's reader
  stops at a NUL, so the origin counted the file; clamp called it malformed;
- the device label from records: the origin took the first record it parsed a score from
  (valid or not); clamp took the first valid one, so a first record with a score of 1.5 or a
  seed of 0 named another device.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest

from clamp.telemetry.aggregator import TemporalAggregator
from clamp.telemetry.sessions import read_session_file

from .test_origin_numbers import _both_paths_agree
from .test_origin_telemetry import origin_aggregator, origin_summary

__all__ = ["origin_aggregator"]  # the module-scoped fixture, compiled once

KEYS = ("sessionCount", "meanStability", "variance", "driftPercentile", "backend", "deviceName")


def rec(score: Any = 0.5, duration: Any = 10, **over: Any) -> dict[str, Any]:
    r = {"seed": 7, "acquired_at": "2025-01-01T00:00:00Z", "duration_ms": duration,
         "stability_score": score}
    r.update(over)
    return r


SESSION = json.dumps({"backend": "hip", "deviceName": "gfx90a",
                      "records": [rec(0.5, 10), rec(0.7, 20)]})


def _root(tmp: Path, files: dict[str, bytes]) -> Path:
    root = Path(tempfile.mkdtemp(dir=tmp))
    (root / "build" / "telemetry").mkdir(parents=True)
    for name, data in files.items():
        (root / "build" / "telemetry" / name).write_bytes(data)
    return root


def _agree(binary: Path, tmp: Path, files: dict[str, bytes],
           keys: tuple[str, ...] = KEYS) -> dict[str, Any]:
    """clamp's summary of `files`, checked against the origin's figures and labels (`keys`) and
    the reference reader's rows."""
    theirs = origin_summary(binary, _root(tmp, files))
    root = _root(tmp, files)
    ours = json.loads(TemporalAggregator(db=root / "s.duckdb").accumulate(root).to_json())
    for key in keys:
        if isinstance(theirs[key], float) and not math.isnan(theirs[key]):
            assert ours[key] == pytest.approx(theirs[key], abs=5e-7), key
        else:
            assert ours[key] == theirs[key], key
    _both_paths_agree(_root(tmp, files))
    return ours


def _reasons(ours: dict[str, Any]) -> list[str]:
    return [f["reason"] for f in ours["corruptFiles"]["files"]]


@pytest.mark.parametrize("text", [
    '{"records": [{"stability_score": NaN}, {"stability_score": 0.5}]}',
    '{"records": [{"stability_score": 0.5, "duration_ms": Infinity}, {"stability_score": 0.5}]}',
    '{"records": [{"stability_score": 0.5, "duration_ms": -Infinity}]}',
    '{"records": [{"stability_score": 0.5, "seed": NaN}]}',
    '{"stability_score": NaN, "records": [{"stability_score": 0.5}]}',
])
def test_nan_and_infinity_literals_make_the_file_corrupt(origin_aggregator: Path,
                                                         tmp_path: Path, text: str) -> None:
    ours = _agree(origin_aggregator, tmp_path, {"a.json": text.encode(),
                                                "b.json": SESSION.encode()})
    assert ours["recordCount"] == 2 and len(_reasons(ours)) == 1
    assert _reasons(ours)[0].startswith("not valid JSON: ")
    assert "is not a JSON number" in _reasons(ours)[0]


def test_numeric_strings_nan_and_inf_are_still_numbers(origin_aggregator: Path,
                                                       tmp_path: Path) -> None:
    """The twin: the *strings* "nan" and "inf" are what stod reads, as before (a NaN score is an
    invalid record, an infinite duration is dropped), and a number past the double range is
    still infinity (documented)."""
    text = ('{"stability_score": "nan", "records": [{"stability_score": "nan"}, '
            '{"stability_score": 0.5, "duration_ms": "inf"}, '
            '{"stability_score": 0.25, "duration_ms": 4}]}')
    ours = _agree(origin_aggregator, tmp_path, {"a.json": text.encode()})
    assert ours["recordCount"] == 2 and ours["corruptFiles"]["count"] == 0
    assert ours["invalidRecords"]["count"] == 1


@pytest.mark.parametrize("text", [
    '{"backend": "\\ud800", "records": [{"stability_score": 0.5}]}',
    '{"records": [{"context": "\\udfff", "stability_score": 0.5}]}',
    '{"records": [{"stability_score": 0.5, "\\ud83d": 1}]}',
])
def test_a_lone_surrogate_is_corrupt_not_a_crash(origin_aggregator: Path, tmp_path: Path,
                                                 text: str) -> None:
    ours = _agree(origin_aggregator, tmp_path, {"a.json": text.encode(),
                                                "b.json": SESSION.encode()})
    assert _reasons(ours) == ["not valid JSON: a lone surrogate escape is not a character"]


def test_paired_surrogates_and_escaped_backslashes_are_text(origin_aggregator: Path,
                                                            tmp_path: Path) -> None:
    """The twin: an emoji as a surrogate pair, and the six characters `\\ud800` written with an
    escaped backslash, are ordinary labels."""
    for backend in ("\\ud83d\\ude00", "\\\\ud800"):
        text = f'{{"backend": "{backend}", "records": [{{"stability_score": 0.5}}]}}'
        ours = _agree(origin_aggregator, tmp_path, {"a.json": text.encode()})
        assert ours["recordCount"] == 1 and ours["backend"] == json.loads(f'"{backend}"')


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_utf16_and_utf32_files_are_not_utf8(origin_aggregator: Path, tmp_path: Path,
                                            encoding: str) -> None:
    ours = _agree(origin_aggregator, tmp_path, {"a.json": SESSION.encode(encoding)})
    assert ours["recordCount"] == 0 and ours["corruptFiles"]["count"] == 1


def test_a_utf8_byte_order_mark_is_read(origin_aggregator: Path, tmp_path: Path) -> None:
    """The twin: nlohmann skips one UTF-8 BOM (Windows editors write one), and so does clamp."""
    ours = _agree(origin_aggregator, tmp_path, {"a.json": b"\xef\xbb\xbf" + SESSION.encode()})
    assert ours["recordCount"] == 2 and ours["backend"] == "hip"


@pytest.mark.parametrize("tail", [" {}", '\n{"records": []}', '\n{"backend": "cpu"}', " []",
                                  " null", " 5"])
def test_a_second_value_without_records_is_corrupt_on_both_paths(
        origin_aggregator: Path, tmp_path: Path, tail: str) -> None:
    ours = _agree(origin_aggregator, tmp_path, {"a.json": (SESSION + tail).encode()})
    assert ours["recordCount"] == 0
    assert _reasons(ours)[0].startswith("malformed JSON")


def test_one_value_and_empty_sessions_still_read(origin_aggregator: Path,
                                                 tmp_path: Path) -> None:
    """The twin: one value, on one line (a newline after it) or pretty-printed."""
    pretty = json.dumps(json.loads(SESSION), indent=2)
    ours = _agree(origin_aggregator, tmp_path, {
        "a.json": (SESSION + "\n").encode(), "b.json": pretty.encode()})
    assert ours["recordCount"] == 4 and ours["corruptFiles"]["count"] == 0


@pytest.mark.parametrize("tail", ["\x00", "\n \x00\x00\x00", "\x00 anything after"])
def test_a_nul_after_the_document_ends_it(origin_aggregator: Path, tmp_path: Path,
                                          tail: str) -> None:
    ours = _agree(origin_aggregator, tmp_path, {"a.json": (SESSION + tail).encode()})
    assert ours["recordCount"] == 2 and ours["corruptFiles"]["count"] == 0


def test_a_nul_inside_the_document_is_malformed(origin_aggregator: Path,
                                                tmp_path: Path) -> None:
    """The twin: a NUL before the document is complete leaves it truncated, for both."""
    ours = _agree(origin_aggregator, tmp_path, {"a.json": (SESSION[:-1] + "\x00}").encode()})
    assert ours["recordCount"] == 0 and ours["corruptFiles"]["count"] == 1


@pytest.mark.parametrize("first", [rec(1.5, deviceName="A"), rec(0.5, seed=0, deviceName="A"),
                                   rec("nan", deviceName="A"), rec(0.5, deviceName="A",
                                                                   released_at="garbage")])
def test_the_device_label_comes_from_the_first_record_with_a_score(
        origin_aggregator: Path, tmp_path: Path, first: dict[str, Any]) -> None:
    """The origin counted such a first record (its range, seed and timestamp rules are clamp's,
    documented), so only the labels are compared."""
    doc = {"records": [first, rec(0.5, deviceName="B")]}
    ours = _agree(origin_aggregator, tmp_path, {"a.json": json.dumps(doc).encode(),
                                                "b.json": json.dumps(doc, indent=1).encode()},
                  keys=("backend", "deviceName"))
    assert ours["deviceName"] == "A" and ours["invalidRecords"]["count"] == 2


def test_a_record_without_a_score_names_no_device(origin_aggregator: Path,
                                                  tmp_path: Path) -> None:
    """The twin: a record whose score is missing or not numeric is skipped for the label."""
    doc = {"records": [{"deviceName": "A"}, rec(True, deviceName="A"), rec(0.5, deviceName="B")]}
    ours = _agree(origin_aggregator, tmp_path, {"a.json": json.dumps(doc).encode()})
    assert ours["deviceName"] == "B"


def test_null_and_scalar_records_agree_on_both_paths(tmp_path: Path) -> None:
    """Before, the fast path read a JSON `null` record as a record without a score; the
    reference reader says it is not an object."""
    root = _root(tmp_path, {"a.json": json.dumps({"records": [None, rec(0.5)]}).encode(),
                            "b.json": json.dumps({"records": [5, "x", rec(0.5)]}).encode()})
    _both_paths_agree(root)
    reasons = [r.reason for r in read_session_file(root / "build" / "telemetry" / "a.json")
               .records]
    assert reasons == ["record is not an object", None]


def test_a_file_named_only_dot_json_is_not_a_session(origin_aggregator: Path,
                                                     tmp_path: Path) -> None:
    """std::filesystem gives `.json` no extension (a dot-file), so the origin skipped it; clamp
    read it as a session."""
    other = b'{"records": [{"stability_score": 0.1}]}'
    ours = _agree(origin_aggregator, tmp_path, {".json": SESSION.encode(), "b.json": other})
    assert ours["recordCount"] == 1


def test_dot_files_with_an_extension_are_sessions(origin_aggregator: Path,
                                                  tmp_path: Path) -> None:
    """The twin: `.x.json` and `..json` have the extension `.json` for std::filesystem too."""
    ours = _agree(origin_aggregator, tmp_path, {".x.json": SESSION.encode(),
                                                "..json": SESSION.encode()})
    assert ours["recordCount"] == 4


@pytest.mark.parametrize("name", ["ci\\_work", "ci\\build", "runner\\telemetry\\ok"])
def test_the_origins_summary_of_a_directory_with_backslashes(origin_aggregator: Path,
                                                             tmp_path: Path, name: str) -> None:
    """The origin wrote its directory fields unescaped, so a Windows-style path (here a
    directory whose name holds backslashes) made its summary invalid JSON (`\\_`) or JSON naming
    another directory (`\\b` a backspace, `\\t` a tab). Before, telemetry_inspect refused the one
    and showed the wrong directory for the other."""
    from clamp.telemetry.summary_io import load_summary

    root = tmp_path / name
    (root / "build" / "telemetry").mkdir(parents=True)
    (root / "build" / "telemetry" / "a.json").write_text(SESSION)
    theirs = origin_summary_raw(origin_aggregator, root)
    assert theirs.startswith('{"sourceDirectory":"' + str(root))  # raw, as the origin wrote it
    summary = load_summary(root)
    assert summary.sourceDirectory == str(root / "build" / "telemetry")
    assert (summary.sessionCount, summary.backend, summary.meanStability) == (2, "hip", 0.6)


def test_summaries_that_need_no_repair_are_read_as_written(origin_aggregator: Path,
                                                           tmp_path: Path) -> None:
    """The twin: a plain path, and clamp's own summary of a backslashed directory (escaped)."""
    from clamp.telemetry.summary_io import load_summary

    plain = tmp_path / "plain"
    (plain / "build" / "telemetry").mkdir(parents=True)
    (plain / "build" / "telemetry" / "a.json").write_text(SESSION)
    origin_summary_raw(origin_aggregator, plain)
    assert load_summary(plain).sourceDirectory == str(plain / "build" / "telemetry")
    ours = tmp_path / "ci\\build"
    (ours / "build" / "telemetry").mkdir(parents=True)
    (ours / "build" / "telemetry" / "a.json").write_text(SESSION)
    TemporalAggregator(db=tmp_path / "s.duckdb").accumulate(ours)  # DuckDB reads a backslash
    # in a database path as a separator
    assert load_summary(ours).sourceDirectory == str(ours / "build" / "telemetry")


def origin_summary_raw(binary: Path, root: Path) -> str:
    import subprocess

    subprocess.run([str(binary), str(root)], check=True, timeout=60)
    return (root / "build" / "telemetry_summary.json").read_text()
