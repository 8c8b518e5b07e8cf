"""The CLI: exit codes, one-line errors without tracebacks, no half-written output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from clamp.exitcodes import ExitCode
from clamp.telemetry.samples import write_sample_sessions

from .conftest import DIGESTS, provenance_doc, record


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = invoke(app, list(args), prog_name="clamp")
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err


@pytest.fixture
def sample_root(tmp_path: Path) -> Path:
    write_sample_sessions(tmp_path, DIGESTS)
    (tmp_path / "build" / "rocm_provenance.json").write_text(
        json.dumps(provenance_doc({DIGESTS[0]: "valid", DIGESTS[1]: "unsigned"})))
    return tmp_path


def test_accumulate_json_and_inspect(capsys: pytest.CaptureFixture[str],
                                     sample_root: Path, tmp_path: Path) -> None:
    code, out, err = run(capsys, "telemetry", "accumulate", str(sample_root), "--json",
                         "--window", "1d")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["sessionFileCount"] == 9 and doc["corruptFiles"]["count"] == 1
    assert doc["sessionCount"] == doc["recordCount"]  # the origin's meaning
    assert "corrupt file" in err  # warned, not failed
    code, out, err = run(capsys, "telemetry", "inspect", str(sample_root))
    assert code == 0, err
    for text in ("telemetry summary", "unsigned", "over time", "corrupt inputs", "▁"):
        assert text in out
    code, out, _ = run(capsys, "telemetry", "inspect", str(sample_root), "--json")
    assert json.loads(out)["sessionFileCount"] == 9
    summary = sample_root / "build" / "telemetry_summary.json"
    other = tmp_path / "other.json"
    shutil.copy(summary, other)
    code, out, _ = run(capsys, "telemetry", "inspect", str(summary), "--compare", str(other),
                       "--json")
    rows = {r["metric"]: r for r in json.loads(out)["rows"]}
    assert code == 0 and rows["sessionCount"]["delta"] == 0
    code, out, _ = run(capsys, "telemetry", "inspect", str(summary), "--compare", str(other))
    assert code == 0 and "side by side" in out


def test_original_summary_is_still_inspectable(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    path = tmp_path / "telemetry_summary.json"
    path.write_text(json.dumps({"sourceDirectory": "x", "sessionCount": 3, "meanStability": 0.9,
                                "variance": 0.01, "driftPercentile": 12.0}))
    code, out, err = run(capsys, "telemetry", "inspect", str(path))
    assert code == 0, err
    assert "0.900" in out and "records 3" in out  # the origin counted records


@pytest.mark.parametrize("args", [
    ["--window", "1y"],
    ["--window", "99999999999999d"],  # past what the window arithmetic can hold
    ["--provenance", "missing.json"],
])
def test_bad_input_exits_64_without_writing(capsys: pytest.CaptureFixture[str],
                                            make_root: Callable[..., Path],
                                            args: list[str]) -> None:
    root = make_root({"s.json": {"records": [record(1)]}})
    code, _, err = run(capsys, "telemetry", "accumulate", str(root), *args)
    assert code == ExitCode.BAD_INPUT
    assert_one_line_error(err)
    assert not (root / "build" / "telemetry_summary.json").exists()


def test_bad_provenance_and_missing_root(capsys: pytest.CaptureFixture[str],
                                         make_root: Callable[..., Path],
                                         tmp_path: Path) -> None:
    root = make_root({"s.json": {"records": [record(1)]}})
    (root / "build" / "rocm_provenance.json").write_text("{broken")
    code, _, err = run(capsys, "telemetry", "accumulate", str(root))
    assert code == ExitCode.BAD_INPUT and "rocm_provenance.json" in err
    assert_one_line_error(err)
    code, _, err = run(capsys, "telemetry", "accumulate", str(tmp_path / "absent"))
    assert code == ExitCode.BAD_INPUT
    assert_one_line_error(err)


def test_inspect_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "telemetry", "inspect", str(tmp_path))
    assert code == ExitCode.BAD_INPUT and "accumulate" in err
    assert_one_line_error(err)
    bad = tmp_path / "s.json"
    bad.write_text('{"schemaVersion": 1, "sessionCount": "many"}')
    code, _, err = run(capsys, "telemetry", "inspect", str(bad))
    assert code == ExitCode.BAD_INPUT
    assert_one_line_error(err)


def test_failed_html_write_leaves_no_file(capsys: pytest.CaptureFixture[str],
                                          sample_root: Path, tmp_path: Path) -> None:
    assert run(capsys, "telemetry", "accumulate", str(sample_root))[0] == 0
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    code, _, err = run(capsys, "telemetry", "inspect", str(sample_root), "--html",
                       str(blocker / "report.html"))
    assert code == ExitCode.BAD_INPUT
    assert_one_line_error(err)


def test_store_in_use_is_a_conflict(capsys: pytest.CaptureFixture[str],
                                    make_root: Callable[..., Path]) -> None:
    root = make_root({"s.json": {"records": [record(1)]}})
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); sys.stdin.read()", str(root / "build" / "t.duckdb")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        code, _, err = run(capsys, "telemetry", "accumulate", str(root), "--db",
                           str(root / "build" / "t.duckdb"))
        assert code == ExitCode.CONFLICT
        assert_one_line_error(err)
        assert not (root / "build" / "telemetry_summary.json").exists()
    finally:
        holder.communicate("")


def test_console_script(sample_root: Path) -> None:
    script = Path(sys.executable).with_name("telemetry_inspect")
    if not script.exists():
        pytest.skip("console script not installed")
    assert subprocess.run([str(script), str(sample_root)], capture_output=True).returncode == (
        ExitCode.BAD_INPUT)  # no summary yet
    invoke(app, ["telemetry", "accumulate", str(sample_root)], prog_name="clamp")
    proc = subprocess.run([str(script), str(sample_root), "--json"], capture_output=True,
                          text=True, env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 0 and json.loads(proc.stdout)["sessionFileCount"] == 9


def test_github_actions_outputs(capsys: pytest.CaptureFixture[str], sample_root: Path,
                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs, step = tmp_path / "out.txt", tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    code, _, out = run(capsys, "telemetry", "accumulate", str(sample_root))  # annotations: stderr
    assert code == 0
    assert "::warning file=" in out and "corrupt telemetry file" in out
    assert "session_count=897" in outputs.read_text()  # the origin's meaning: records
    assert "| 9 |" in step.read_text()


def test_samples_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "telemetry", "samples", str(tmp_path), "--digest", DIGESTS[0],
                       "--digest", DIGESTS[1])
    assert code == 0 and "wrote 7 sample session files" in err
    code, _, err = run(capsys, "telemetry", "samples", str(tmp_path), "--digest", "latest")
    assert code == ExitCode.BAD_INPUT
    assert_one_line_error(err)


@pytest.mark.parametrize("width", [80, 150])
def test_terminal_view_fits_its_width_without_truncated_cells(
        sample_root: Path, width: int) -> None:
    """At 80 columns (a small terminal) and wider, no cell is cut to '…' and every image's
    trust status reads in full; narrow leaves issuer and variance to the JSON."""
    from rich.console import Console

    from clamp.telemetry import TemporalAggregator
    from clamp.telemetry.inspect_view import render

    summary = TemporalAggregator(window="1d").accumulate(sample_root)
    assert summary.changes and summary.gpuMetrics is not None
    with open(os.devnull, "w") as sink:
        console = Console(width=width, record=True, color_system=None, file=sink)
        render(summary, console)
    text = console.export_text()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    for image in summary.breakdown.byImage:
        assert image.evidence.trustStatus in text
    assert ("Variance" in text) == (width >= 110)
    assert ("Δ mean stability" in text) == (width < 140)


def test_logs_and_pipes_get_wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off a terminal rich would assume 80 columns; clamp uses LOG_WIDTH unless COLUMNS says."""
    import io

    from clamp.cli import output

    monkeypatch.delenv("COLUMNS", raising=False)
    assert output._width(io.StringIO()) == output.LOG_WIDTH
    monkeypatch.setenv("COLUMNS", "90")
    assert output._width(io.StringIO()) is None


@pytest.mark.parametrize(("text", "words"), [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"records": [], "n": ' + "9" * 100_000 + "}", "not valid JSON"),  # > 4300 digits
])
def test_deeply_nested_provenance_or_summary_is_bad_input(
        capsys: pytest.CaptureFixture[str], sample_root: Path, tmp_path: Path, text: str,
        words: str) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(text)
    code, _, err = run(capsys, "telemetry", "accumulate", str(sample_root), "--provenance",
                       str(deep))
    assert code == ExitCode.BAD_INPUT and words in err
    assert_one_line_error(err)
    code, _, err = run(capsys, "telemetry", "inspect", str(deep))
    assert code == ExitCode.BAD_INPUT and words in err
    assert_one_line_error(err)


def test_origin_inspect_options(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                sample_root: Path) -> None:
    """telemetry_inspect keeps the origin's --summary, --sessions and --compare GLOB."""
    assert run(capsys, "telemetry", "accumulate", str(sample_root))[0] == 0
    code, out, _ = run(capsys, "telemetry", "inspect", str(sample_root), "--summary")
    assert code == 0 and "telemetry summary" in out and "session breakdown" not in out
    code, out, _ = run(capsys, "telemetry", "inspect", str(sample_root), "--sessions")
    assert code == 0 and "session breakdown" in out and "telemetry summary" not in out
    runs = tmp_path / "runs"
    for name, mean in (("a", 0.9), ("b", 0.8), ("c", 0.7)):
        (runs / name).mkdir(parents=True)
        (runs / name / "telemetry_summary.json").write_text(json.dumps(
            {"sessionCount": 3, "meanStability": mean, "variance": 0.01,
             "driftPercentile": 12.0, "backend": "HIP", "deviceName": name}))
    code, out, err = run(capsys, "telemetry", "inspect", str(sample_root), "--json",
                         "--compare", str(runs / "*" / "telemetry_summary.json"))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["baseline"].endswith("a/telemetry_summary.json")
    assert [round(e["meanDelta"], 6) for e in doc["entries"]] == [0.0, -0.1, -0.2]
    code, out, _ = run(capsys, "telemetry", "inspect", str(sample_root), "--compare",
                       str(runs / "*" / "telemetry_summary.json"))
    assert code == 0 and "baseline" in out
    code, _, err = run(capsys, "telemetry", "inspect", str(sample_root), "--compare",
                       str(runs / "*" / "nothing.json"))
    assert code == ExitCode.BAD_INPUT and "no files matched" in err


def test_accumulate_line_rounds_as_the_views(capsys: pytest.CaptureFixture[str],
                                             sample_root: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "telemetry", "accumulate", str(sample_root))
    assert code == 0 and "mean stability 0.869," in err  # was "0.8690"
    tdir = tmp_path / "empty" / "build" / "telemetry"
    tdir.mkdir(parents=True)
    (tdir / "s.json").write_text(json.dumps({"records": [record(0, seed=0)]}))
    code, _, err = run(capsys, "telemetry", "accumulate", str(tmp_path / "empty"))
    assert code == 0 and "0 records, mean stability —," in err  # was "0.0000"
