"""Scaling tables for the benchmarks: library, CLI and a baseline at 8 ... 1024 entries.

Method (the same for every script that uses it): for each size the three contenders run one
after another, and that round is repeated `reps` times, so a slow moment of a shared machine
falls on all three alike; each cell is the median of its `reps` wall times. A baseline that
works one entry after another (a skopeo loop, the verifier on one image at a time) grows
linearly with the entries, so above `sample` entries it is timed on the first `sample` entries
and scaled (marked `*`): its per-entry cost does not depend on how many follow.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

FULL_SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)
QUICK_SIZES = (8, 16, 32, 64, 128)


@dataclass
class Row:
    size: int
    library: list[float] = field(default_factory=list)
    cli: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    scaled: bool = False

    def median(self, which: str) -> float:
        return statistics.median(getattr(self, which))


def measure(sizes: tuple[int, ...], reps: int, sample: int, *,
            library: Callable[[int], float], cli: Callable[[int], float],
            baseline: Callable[[int], float]) -> list[Row]:
    """Each callable runs its contender on the first `n` entries and returns its wall time."""
    rows = []
    for n in sizes:
        row = Row(n, scaled=n > sample)
        library(n)  # warm-up: connections, caches, the page cache of the CLI's files
        cli(n)
        for _ in range(reps):
            row.library.append(library(n))
            row.cli.append(cli(n))
            m = min(n, sample)
            row.baseline.append(baseline(m) * n / m)
        rows.append(row)
        print(f"  ... {n} entries done", file=sys.stderr, flush=True)
    return rows


def table(rows: list[Row], *, baseline_name: str) -> str:
    """A Markdown table that can be pasted into benchmarks/README.md as it is."""
    lines = [f"| entries | library | CLI | CLI / library | {baseline_name} | "
             f"{baseline_name} / CLI | {baseline_name} / library |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lib, cli, base = r.median("library"), r.median("cli"), r.median("baseline")
        mark = "*" if r.scaled else ""
        lines.append(f"| {r.size} | {_ms(lib)} | {_ms(cli)} | {cli / lib:.2f}× | "
                     f"{_ms(base)}{mark} | {base / cli:.1f}× | {base / lib:.1f}× |")
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def run_timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Wall time of one subprocess; a failure ends the benchmark with its stderr."""
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                          env=env if env is not None else cli_env())
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr[-800:]}")
    return elapsed


def cli_env() -> dict[str, str]:
    """The environment a user's `clamp` runs in: bytecode caches written and used (a session
    that sets PYTHONDONTWRITEBYTECODE would otherwise compile clamp's sources on every run)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("GITHUB_ACTIONS", None)
    return env


def startup_floor(reps: int, imports: str) -> str:
    """What every CLI run pays before its first request: the interpreter, and the imports the
    command needs (median of `reps`, alternating)."""
    plain: list[float] = []
    loaded: list[float] = []
    for _ in range(reps):
        plain.append(run_timed([sys.executable, "-c", "pass"]))
        loaded.append(run_timed([sys.executable, "-c", imports]))
    return (f"start-up floor: `python -c pass` {_ms(statistics.median(plain))}, "
            f"`python -c \"{imports}\"` {_ms(statistics.median(loaded))} "
            f"(median of {reps})")
