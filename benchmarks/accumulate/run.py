"""Benchmark: cold and incremental `TemporalAggregator.accumulate` against raw DuckDB queries.

    python benchmarks/accumulate/run.py                  # 5,000,000 records, 10,000 files, 5 rounds
    python benchmarks/accumulate/run.py --quick          # 500,000 records, 1,000 files (< 2 min)
    python benchmarks/accumulate/run.py --json           # also the full JSON report

Every measurement runs in its own child process, and peak memory is that child's ru_maxrss
(from os.wait4): DuckDB allocates outside Python's allocator, so tracemalloc would not see it.
Times are wall-clock and CPU (user + system of all threads, `time.process_time`) around the
measured call inside the child (interpreter start-up and imports, `duckdb` included, excluded for
all of them); CPU time says how much work a run did when a shared machine's load blurs the wall
clock. The raw query runs once first, unmeasured, so that
every file is in the page cache for all runs alike; then `--repeat` rounds each run the raw
query, its newline-delimited twin, the raw query into a table and a cold accumulate (a fresh
store directory each time), one after the other, so a change in the machine's load hits all of
them, and then one more child runs the raw query and a cold accumulate in the same process (raw
first in odd rounds, cold first in even ones). Medians are reported, and each round's cold ÷ raw
(across the children, and within the one process); then `--repeat` incremental runs with
`--new-files` fresh files each. The last output is a Markdown table to paste as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

#: The issue's baseline: DuckDB reading the same files with its own detection and computing the
#: same count, mean, sample variance and p95 (an aggregate: nothing is stored).
RAW_QUERY = """
SELECT count(*), avg(r.stability_score), var_samp(r.stability_score),
       quantile_cont(r.duration_ms, 0.95)
FROM (SELECT unnest(records) AS r FROM read_json($1__OPTIONS__))
"""
# Reported beside it, not used for the bar: the same query told the files are newline-delimited,
# which spares DuckDB its format detection.
RAW_OPTIONS = {"raw": "", "raw_nd": ", format='newline_delimited'"}
#: A stricter baseline (reported, not the bar): the same reader writing each record's file,
#: time, duration and stability into a table of a fresh database file, then the same four
#: numbers from that table. A persistent store has to do at least this; it validates nothing.
RAW_TABLE = """
CREATE TABLE records AS
SELECT filename, r.acquired_at::TIMESTAMPTZ AS acquired_at, r.duration_ms::DOUBLE AS duration_ms,
       r.stability_score::DOUBLE AS stability
FROM (SELECT filename, unnest(records) AS r FROM read_json($1, filename=true));
"""
RAW_TABLE_STATS = """
SELECT count(*), avg(stability), var_samp(stability), quantile_cont(duration_ms, 0.95)
FROM records
"""
LABELS = {"raw": "raw `read_json` query (the bar's baseline)",
          "raw_nd": "raw query, newline-delimited",
          "raw_table": "raw `read_json` into a table, then the query",
          "cold": "cold accumulate (fresh store)"}


def child(mode: str, root: str, store: str) -> None:
    """Run one measurement in this (child) process and print a JSON line. The `pair` modes run
    the raw query and a cold accumulate one after the other in this one process (in the order
    the mode names), so the two see the same process, page cache and moment of the machine."""
    import duckdb  # imported before the clock starts in every mode, as the module docstring says

    if mode.startswith("pair_"):
        order = ("raw", "cold") if mode == "pair_raw_first" else ("cold", "raw")
        out = {}
        for part in order:
            fresh = Path(store) / part
            fresh.mkdir(parents=True)
            out[part] = _measure_here(duckdb, part, root, str(fresh / "telemetry.duckdb"))
        print(json.dumps({**{f"{k}_{part}": v for part in order for k, v in out[part].items()},
                          "seconds": out["cold"]["seconds"] / out["raw"]["seconds"],
                          "cpu_s": out["cold"]["cpu_s"] / out["raw"]["cpu_s"]}))
        return
    print(json.dumps(_measure_here(duckdb, mode, root, store)))


def _measure_here(duckdb: Any, mode: str, root: str, store: str) -> dict[str, Any]:
    """One measurement in this process: a raw query, or a cold/incremental accumulate."""
    tdir = Path(root) / "build" / "telemetry"
    glob = str(tdir / "*.json")
    if mode in RAW_OPTIONS or mode == "raw_table":
        con = duckdb.connect(store if mode == "raw_table" else ":memory:")
        start, cpu = time.perf_counter(), time.process_time()
        if mode == "raw_table":
            con.execute("SET TimeZone = 'UTC'")
            con.execute(RAW_TABLE, [glob])
            row = con.execute(RAW_TABLE_STATS).fetchone()
            con.close()
        else:
            row = con.execute(RAW_QUERY.replace("__OPTIONS__", RAW_OPTIONS[mode]),
                              [glob]).fetchone()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        if mode != "raw_table":
            con.close()  # its memory and threads must not weigh on a run after it (pairs)
        assert row is not None
        n, mean, var, p95 = row
        return {"seconds": elapsed, "cpu_s": cpu, "records": n, "mean": mean, "variance": var,
                "p95": p95}
    from clamp.telemetry import TemporalAggregator

    aggregator = TemporalAggregator(db=Path(store))
    start, cpu = time.perf_counter(), time.process_time()
    summary = aggregator.accumulate(Path(root))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    stats = aggregator.last_ingest
    return {"seconds": elapsed, "cpu_s": cpu, "records": summary.recordCount,
            "mean": summary.meanStability, "variance": summary.variance,
            "p95": summary.durationP95, "ingested": stats.ingested if stats else None,
            "fallback": stats.fallback if stats else None}


def measure(mode: str, root: Path, store: Path) -> dict[str, Any]:
    proc = subprocess.Popen([sys.executable, __file__, "--child", mode, str(root), str(store)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} run failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    result["child_cpu_s"] = usage.ru_utime + usage.ru_stime  # imports included
    if "seconds_raw" in result:
        print(f"  {mode:<11} raw {result['seconds_raw']:7.3f} s {result['cpu_s_raw']:6.2f} CPU-s,"
              f" cold {result['seconds_cold']:7.3f} s {result['cpu_s_cold']:6.2f} CPU-s",
              file=sys.stderr)
    else:
        print(f"  {mode:<11} {result['seconds']:7.3f} s {result['cpu_s']:6.2f} CPU-s",
              file=sys.stderr)
    return result


def _write_chunk(args: tuple[str, int, int, int]) -> int:
    out, files, records, start = args
    generate.write_files(Path(out), files=files, records=records, start_index=start)
    return files


def generate_all(tdir: Path, files: int, records: int) -> None:
    per_file = max(1, records // files)
    chunk = max(1, files // 8)
    jobs = [(str(tdir), min(chunk, files - s), min(chunk, files - s) * per_file, s)
            for s in range(0, files, chunk)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(_write_chunk, jobs))


def _median(runs: list[dict[str, Any]]) -> float:
    return statistics.median(x["seconds"] for x in runs)


def table(report: dict[str, Any]) -> str:
    """The report as a Markdown table (times in seconds, one column per round)."""
    rounds = len(report["cold_s"])
    head = "| | " + " | ".join(f"round {i + 1}" for i in range(rounds)) + " | median |"
    lines = [head, "|---" * (rounds + 2) + "|"]

    def row(label: str, values: list[float], middle: float, digits: int = 2) -> None:
        cells = " | ".join(f"{v:.{digits}f}" for v in values)
        lines.append(f"| {label} | {cells} | **{middle:.{digits}f}** |")

    for key in ("raw", "raw_nd", "raw_table", "cold"):
        values = report[f"{key}_s"]
        row(LABELS[key] + " (s)", values, statistics.median(values))
    for key in ("raw", "cold"):
        values = report[f"{key}_cpu_s"]
        row(LABELS[key] + " (CPU-s)", values, statistics.median(values))
    row("cold ÷ raw query, same round", report["cold_over_raw_by_round"],
        report["cold_over_raw_median"])
    row("cold ÷ raw into a table, same round", report["cold_over_raw_table_by_round"],
        report["cold_over_raw_table_median"])
    row("cold ÷ raw, both in one process (s)", report["cold_over_raw_same_process_by_round"],
        report["cold_over_raw_same_process_median"])
    cpu_pairs = report["cold_over_raw_cpu_same_process_by_round"]
    row("cold ÷ raw, both in one process (CPU-s)", cpu_pairs, statistics.median(cpu_pairs))
    inc = report["incremental_s"]
    row(f"incremental, {report['new_files']} new files (s)", inc, statistics.median(inc))
    inc_cpu = report["incremental_cpu_s"]
    row(f"incremental, {report['new_files']} new files (CPU-s)", inc_cpu,
        statistics.median(inc_cpu))
    bars = report["bars"]
    lines += [
        "",
        f"{report['records']:,} records in {report['files']:,} files; {report['cpus']} CPUs, "
        f"Python {report['python']}, DuckDB {report['duckdb']}; 1-minute load average "
        f"{report['load_average_1m_start']:.1f} at the start, "
        f"{report['load_average_1m_end']:.1f} at the end (the benchmark's own children "
        "included). The cold ÷ raw median is median(cold) ÷ median(raw).",
        f"Peak RSS {report['peak_rss_mib']:.0f} MiB; the cold summaries' mean, variance and p95 "
        f"{'equal' if report['results_agree'] else 'DIFFER FROM'} the raw query's.",
        f"Bars: cold ≤ 1.3× raw (median of the rounds in one process) "
        f"{'met' if bars['cold_within_1.3x_raw'] else 'NOT met'}; "
        f"incremental < 2 s {'met' if bars['incremental_under_2s'] else 'NOT met'}; "
        f"peak < 1.5 GiB {'met' if bars['peak_memory_under_1.5GiB'] else 'NOT met'}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=None,
                        help="Records in all (default 5,000,000; 500,000 with --quick).")
    parser.add_argument("--files", type=int, default=None,
                        help="Session files (default 10,000; 1,000 with --quick).")
    parser.add_argument("--new-files", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=None,
                        help="Rounds of raw/cold (alternating) and of incremental (default 5; "
                             "3 with --quick); medians are reported, a shared box being noisy.")
    parser.add_argument("--quick", action="store_true",
                        help="A tenth of the data and 3 rounds: finishes in under 2 minutes.")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="Reuse/keep data here instead of a fresh temp dir.")
    parser.add_argument("--json", action="store_true", help="Also print the JSON report.")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "ROOT", "STORE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    records = args.records or (500_000 if args.quick else 5_000_000)
    files = args.files or (1_000 if args.quick else 10_000)
    repeat = args.repeat or (3 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="clamp-bench-") as tmp:
        root = args.workdir or Path(tmp)
        tdir = root / "build" / "telemetry"
        if not (tdir.is_dir() and len(list(tdir.glob("*.json"))) == files):
            tdir.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            generate_all(tdir, files, records)
            print(f"generated {records:,} records in {files:,} files "
                  f"in {time.perf_counter() - start:.1f}s", file=sys.stderr)
        stores = Path(tempfile.mkdtemp(prefix="stores-", dir=root))
        load_start = os.getloadavg()[0]
        print("warm-up (unmeasured):", file=sys.stderr)
        measure("raw", root, stores / "unused")
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in LABELS}
        pairs: list[dict[str, Any]] = []
        store = stores / "none"
        for i in range(repeat):
            print(f"round {i + 1}:", file=sys.stderr)
            for mode in LABELS:
                fresh = stores / f"{mode}-{i}"  # a fresh store directory for every run
                fresh.mkdir()
                store = fresh / "telemetry.duckdb"
                runs[mode].append(measure(mode, root, store))
                if mode != "cold" or i + 1 < repeat:
                    shutil.rmtree(fresh)
            pair = stores / f"pair-{i}"
            pairs.append(measure("pair_raw_first" if i % 2 == 0 else "pair_cold_first", root,
                                 pair))
            shutil.rmtree(pair)
        cold_store = store  # the last cold run's: the incremental runs update it
        incs = []
        per_file = max(1, records // files)
        new_index = files
        print("incremental:", file=sys.stderr)
        for _ in range(repeat):
            generate.write_files(tdir, files=args.new_files, records=args.new_files * per_file,
                                 start_index=new_index, seed=1)
            new_index += args.new_files
            incs.append(measure("incremental", root, cold_store))
        for index in range(files, new_index):
            (tdir / f"session-{index:06d}.json").unlink()
        shutil.rmtree(stores)
        import duckdb

        raws, colds = runs["raw"], runs["cold"]
        peak = max(x["peak_rss_mib"] for x in colds + incs)
        agree = all(abs(c[k] - r[k]) < 1e-9 for c in colds for r in raws
                    for k in ("mean", "variance", "p95"))
        report: dict[str, Any] = {
            "records": records, "files": files, "new_files": args.new_files,
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "load_average_1m_start": load_start, "load_average_1m_end": os.getloadavg()[0],
            **{f"{k}_s": [round(x["seconds"], 3) for x in v] for k, v in runs.items()},
            **{f"{k}_cpu_s": [round(x["cpu_s"], 2) for x in v] for k, v in runs.items()},
            "incremental_s": [round(x["seconds"], 3) for x in incs],
            "incremental_cpu_s": [round(x["cpu_s"], 2) for x in incs],
            "cold_over_raw_by_round": [c["seconds"] / r["seconds"]
                                       for c, r in zip(colds, raws, strict=True)],
            "cold_over_raw_median": _median(colds) / _median(raws),
            "cold_over_raw_table_by_round": [
                c["seconds"] / r["seconds"] for c, r in zip(colds, runs["raw_table"],
                                                            strict=True)],
            "cold_over_raw_table_median": _median(colds) / _median(runs["raw_table"]),
            "same_process_raw_s": [round(x["seconds_raw"], 3) for x in pairs],
            "same_process_cold_s": [round(x["seconds_cold"], 3) for x in pairs],
            "cold_over_raw_same_process_by_round": [x["seconds"] for x in pairs],
            "cold_over_raw_same_process_median": statistics.median(x["seconds"] for x in pairs),
            "cold_over_raw_cpu_same_process_by_round": [x["cpu_s"] for x in pairs],
            "peak_rss_mib": peak,
            "results_agree": agree and all(c["records"] == raws[0]["records"] for c in colds),
        }
        # The bar: the raw query in the same process as the cold run, median of the
        # rounds. The across-children ratio (reported above) divides medians taken apart, and a
        # loaded machine can inflate the raw ones alone (a 14.9 s round among 2-5 s ones made it
        # read 0.96 in session 10).
        report["bars"] = {"cold_within_1.3x_raw":
                          report["cold_over_raw_same_process_median"] <= 1.3,
                          "incremental_under_2s": _median(incs) < 2.0,
                          "peak_memory_under_1.5GiB": peak < 1536}
        if args.json:
            print(json.dumps(report, indent=2))
        print(table(report))


if __name__ == "__main__":
    main()
