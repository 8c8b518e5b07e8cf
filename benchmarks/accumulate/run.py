"""Benchmark: cold and incremental `TemporalAggregator.accumulate` against a raw DuckDB query.

    python benchmarks/accumulate/run.py                       # 5,000,000 records, 10,000 files
    python benchmarks/accumulate/run.py --records 200000 --files 400   # quick run

Every measurement runs in its own child process, and peak memory is that child's ru_maxrss
(from os.wait4): DuckDB allocates outside Python's allocator, so tracemalloc would not see it.
Times are wall-clock around the measured call inside the child (interpreter start-up and imports
excluded, the same for all three). Raw query and cold accumulate alternate `--repeat` times (each
cold run starts from an empty store); the best and the median of each are reported, and the
incremental run is repeated with 10 fresh files each time.
"""

from __future__ import annotations

import argparse
import json
import os
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

RAW_QUERY = """
SELECT count(*), avg(r.stability_score), var_samp(r.stability_score),
       quantile_cont(r.duration_ms, 0.95)
FROM (SELECT unnest(records) AS r FROM read_json($1__OPTIONS__))
"""
# The baseline is the plain query above. Reported beside it, not used for the bar: the
# same query told the files are newline-delimited, which spares DuckDB its format detection.
RAW_OPTIONS = {"raw": "", "raw_nd": ", format='newline_delimited'"}


def child(mode: str, root: str) -> None:
    """Run one measurement in this (child) process and print a JSON line."""
    import duckdb  # imported before the clock starts in every mode, as the module docstring says

    tdir = Path(root) / "build" / "telemetry"
    if mode in RAW_OPTIONS:
        con = duckdb.connect()
        query = RAW_QUERY.replace("__OPTIONS__", RAW_OPTIONS[mode])
        start = time.perf_counter()
        n, mean, var, p95 = con.execute(query, [str(tdir / "*.json")]).fetchone()
        elapsed = time.perf_counter() - start
        print(json.dumps({"seconds": elapsed, "records": n, "mean": mean, "variance": var,
                          "p95": p95}))
        return
    from clamp.telemetry import TemporalAggregator

    aggregator = TemporalAggregator()
    start = time.perf_counter()
    summary = aggregator.accumulate(Path(root))
    elapsed = time.perf_counter() - start
    stats = aggregator.last_ingest
    print(json.dumps({"seconds": elapsed, "records": summary.recordCount,
                      "mean": summary.meanStability, "variance": summary.variance,
                      "p95": summary.driftPercentile,
                      "ingested": stats.ingested if stats else None,
                      "fallback": stats.fallback if stats else None}))


def measure(mode: str, root: Path) -> dict[str, Any]:
    proc = subprocess.Popen([sys.executable, __file__, "--child", mode, str(root)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} run failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux: kilobytes
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--new-files", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3,
                        help="Rounds of raw/cold (alternating) and of incremental; best and "
                             "median are reported, since a shared 2-core box is noisy.")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="Reuse/keep data here instead of a fresh temp dir.")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="clamp-bench-") as tmp:
        root = args.workdir or Path(tmp)
        tdir = root / "build" / "telemetry"
        if not (tdir.is_dir() and len(list(tdir.glob("*.json"))) == args.files):
            tdir.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            generate_all(tdir, args.files, args.records)
            print(f"generated {args.records:,} records in {args.files:,} files "
                  f"in {time.perf_counter() - start:.1f}s", file=sys.stderr)
        for path in tdir.glob("*.json"):  # every run then starts from a warm page cache
            path.read_bytes()
        store = root / "build" / "telemetry.duckdb"
        raws, raws_nd, colds, incs = [], [], [], []
        for _ in range(args.repeat):
            raws.append(measure("raw", root))
            raws_nd.append(measure("raw_nd", root))
            for leftover in (store, store.with_suffix(".duckdb.wal")):
                leftover.unlink(missing_ok=True)
            colds.append(measure("cold", root))
        per_file = max(1, args.records // args.files)
        new_index = args.files
        for _ in range(args.repeat):
            generate.write_files(tdir, files=args.new_files, records=args.new_files * per_file,
                                 start_index=new_index, seed=1)
            new_index += args.new_files
            incs.append(measure("incremental", root))
        for index in range(args.files, new_index):
            (tdir / f"session-{index:06d}.json").unlink()
        raw, cold, incremental = (min(r, key=lambda x: x["seconds"]) for r in (raws, colds, incs))
        peak = max(x["peak_rss_mib"] for x in colds + incs)
        report = {
            "records": args.records, "files": args.files, "cpus": os.cpu_count(),
            "load_average_1m": os.getloadavg()[0],
            "raw_query_s": [round(x["seconds"], 3) for x in raws],
            "raw_query_newline_delimited_s": [round(x["seconds"], 3) for x in raws_nd],
            "cold_s": [round(x["seconds"], 3) for x in colds],
            "incremental_s": [round(x["seconds"], 3) for x in incs],
            "best": {"raw_query": raw, "cold": cold, "incremental": incremental},
            "cold_over_raw_best": cold["seconds"] / raw["seconds"],
            "cold_over_raw_median": statistics.median(x["seconds"] for x in colds)
            / statistics.median(x["seconds"] for x in raws),
            "cold_over_raw_newline_delimited_best": cold["seconds"]
            / min(x["seconds"] for x in raws_nd),
            "peak_rss_mib": peak,
            "results_agree": all(abs(c[k] - raw[k]) < 1e-9 for c in colds
                                 for k in ("mean", "variance", "p95"))
            and all(c["records"] == raw["records"] for c in colds),
            "bars": {"cold_within_1.5x_raw": cold["seconds"] <= 1.5 * raw["seconds"],
                     "incremental_under_2s": incremental["seconds"] < 2.0,
                     "peak_memory_under_1.5GiB": peak < 1536},
        }
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
