"""Benchmark: `clamp update` against `clamp verify --matrix` on the same N-entry matrix.

Issue 16's bar: update linear in the entries and within 1.5x of `verify --matrix` on the same
matrix (update used to re-parse the whole YAML for every field it set: quadratic). Both are the
whole command as a subprocess (start-up, matrix load, every request, the output written), on
key-signed images in Debian's `docker-registry` behind the loopback proxy (+20 ms per request),
as in verify_images. Two cases, each with its own verify baseline on the same file:

  - moved: every entry is pinned to an older signed image and its tag now names a newer signed
    one, so update verifies the new image and rewrites every pin (digest, added date, the
    provenance written beside it); verify --matrix on that file reports every tag as drifted.
  - unchanged: every pin is what its tag names; update re-verifies every pin and writes nothing.

Each update run gets a fresh copy of its matrix (copied before the clock starts). At each size
update and verify run one after another, `--reps` (5) rounds after a warm-up round, and each cell
is the median of its rounds: wall time, and CPU time (user+sys of the command, from
`getrusage(RUSAGE_CHILDREN)`), because the machine is shared.

`--old SRC` also times the update of another copy of clamp's sources (`SRC` holds the `clamp`
package, e.g. `git archive main src | tar -x -C /tmp/old` and `--old /tmp/old/src`), run the same
way with `PYTHONPATH=SRC`, in the same rounds (old update, new update, verify), so a change is
compared with what it replaces on the same machine at the same moment.

`--profile N` instead runs update once in-process on the moved N-entry matrix under cProfile and
prints where the time goes.

Usage: python benchmarks/update/run.py [--quick] [--sizes 8,64] [--reps 5] [--delay-ms 20]
                                       [--old SRC]
       python benchmarks/update/run.py --profile 256
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from benchmarks.scaling import FULL_SIZES, QUICK_SIZES, cli_env  # noqa: E402
from clamp.demo.images import put_image  # noqa: E402
from clamp.location import Registry  # noqa: E402
from clamp.oci.reference import Reference  # noqa: E402
from clamp.oci.store import Stores  # noqa: E402
from clamp.signed.attach import push_legacy_signature  # noqa: E402
from clamp.trust.keys import PublicKey  # noqa: E402
from clamp.trust.sign import sign_image_legacy  # noqa: E402
from tests.support.latency_proxy import ProxyProcess  # noqa: E402
from tests.support.registry import run_registry  # noqa: E402

REPO = "bench/rocm-dev"
CONCURRENCY = 64  # both commands: 128 requests in flight, as in verify_images
UPDATE_OK = {"moved": {10}, "unchanged": {0}}  # matrix updated / nothing to do
VERIFY_OK = {"moved": {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "unchanged": {0}}  # drift is a finding


@dataclass
class Cell:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, timing: tuple[float, float]) -> None:
        self.wall.append(timing[0])
        self.cpu.append(timing[1])

    def median(self) -> tuple[float, float]:
        return statistics.median(self.wall), statistics.median(self.cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 ... 128 entries")
    parser.add_argument("--sizes", help="comma-separated entry counts (default 8 ... 1024)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--old", type=Path, default=None,
                        help="also time update from this copy of clamp's sources (a src dir)")
    parser.add_argument("--profile", type=int, default=None,
                        help="profile one in-process update of this many moved entries")
    args = parser.parse_args()
    sizes = (args.profile,) if args.profile else \
        tuple(int(x) for x in args.sizes.split(",")) if args.sizes else \
        QUICK_SIZES if args.quick else FULL_SIZES
    key = ec.generate_private_key(ec.SECP256R1())
    tags = [f"6.{i // 64}.{i % 64}-ubuntu-22.04" for i in range(max(sizes))]
    with tempfile.TemporaryDirectory() as tmp_name, \
            run_registry("open", quiet=True) as registry:
        tmp = Path(tmp_name)
        old, new = asyncio.run(_populate(registry.host, tags, key))
        pub = tmp / "mirror.pub"
        pub.write_bytes(PublicKey(key.public_key()).pem)
        with ProxyProcess(registry.host, delay=args.delay_ms / 1000) as proxy:
            files = {(case, n): _matrix_file(tmp, case, proxy.host, tags[:n],
                                             old if case == "moved" else new, pub)
                     for case in ("moved", "unchanged") for n in sizes}
            if args.profile:
                return _profile(files[("moved", args.profile)], tmp)
            load_before = _load()
            rows = _measure(sizes, args.reps, files, tmp, args.old)
            load_after = _load()
    print(f"clamp update vs clamp verify --matrix on the same N-entry matrix, key-signed images, "
          f"+{args.delay_ms:g} ms per request, --concurrency {CONCURRENCY}; medians of "
          f"{args.reps} alternating rounds; wall time (CPU time of the command); load average "
          f"{load_before} at the start, {load_after} at the end")
    for case in ("moved", "unchanged"):
        print()
        print(_table(case, rows[case], sizes) if args.old is None
              else _old_table(case, rows[case], sizes))
    return 0


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f} (1/5 min)"


Row = tuple[Cell, Cell, Cell | None]  # update, verify, the old update (--old)


def _measure(sizes: tuple[int, ...], reps: int, files: dict[tuple[str, int], Path],
             tmp: Path, old: Path | None) -> dict[str, dict[int, Row]]:
    rows: dict[str, dict[int, Row]] = {"moved": {}, "unchanged": {}}
    for n in sizes:
        for case in ("moved", "unchanged"):
            source = files[(case, n)]
            update, verify, before = Cell(), Cell(), Cell() if old else None
            if old:
                _update(source, tmp, case, old)  # warm-up
            _update(source, tmp, case)
            _verify(source, tmp, case)
            for _ in range(reps):
                if before is not None:
                    before.add(_update(source, tmp, case, old))
                update.add(_update(source, tmp, case))
                verify.add(_verify(source, tmp, case))
            rows[case][n] = (update, verify, before)
        print(f"  ... {n} entries done", file=sys.stderr, flush=True)
    return rows


def _update(source: Path, tmp: Path, case: str, old: Path | None = None) -> tuple[float, float]:
    work = tmp / f"work-{source.name}"
    shutil.copyfile(source, work)
    timing = _run([_clamp(), "update", "--matrix", str(work), "--provenance-output",
                   str(tmp / "update-prov.json"), "--pr-body", str(tmp / "pr.md"),
                   "--concurrency", str(CONCURRENCY), "--json"], UPDATE_OK[case],
                  {"PYTHONPATH": str(old)} if old else None)
    if case == "moved":
        assert work.read_text() != source.read_text(), "update rewrote nothing"
    return timing


def _verify(source: Path, tmp: Path, case: str) -> tuple[float, float]:
    return _run([_clamp(), "verify", "--matrix", str(source), "--output",
                 str(tmp / "verify-prov.json"), "--concurrency", str(CONCURRENCY), "--json"],
                VERIFY_OK[case])


def _clamp() -> str:
    return str(Path(sys.executable).with_name("clamp"))


def _run(argv: list[str], ok: set[int], env: dict[str, str] | None = None
         ) -> tuple[float, float]:
    """Wall and CPU (user+sys) time of one subprocess; an unexpected exit code ends the run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                          env={**cli_env(), **(env or {})})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv[1:3])} exited {proc.returncode}: "
                         f"{(proc.stderr or proc.stdout)[-800:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu


_TITLE = {"moved": "tags moved: update rewrites every pin",
          "unchanged": "nothing changed: update re-verifies every pin, writes nothing"}


def _table(case: str, rows: dict[int, Row], sizes: tuple[int, ...]) -> str:
    lines = [f"{case} ({_TITLE[case]})", "",
             "| entries | update | verify --matrix | update / verify | update CPU | "
             "verify CPU | CPU ratio | update per entry |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        (uw, uc), (vw, vc) = rows[n][0].median(), rows[n][1].median()
        lines.append(f"| {n} | {_ms(uw)} | {_ms(vw)} | {uw / vw:.2f}× | {_ms(uc)} | {_ms(vc)} "
                     f"| {uc / vc:.2f}× | {uw / n * 1000:.1f} ms |")
    return "\n".join(lines)


def _old_table(case: str, rows: dict[int, Row], sizes: tuple[int, ...]) -> str:
    lines = [f"{case} ({_TITLE[case]})", "",
             "| entries | update old | update new | verify --matrix | old / verify | "
             "new / verify | CPU old | CPU new | CPU verify | CPU new / verify |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        update, verify, before = rows[n]
        assert before is not None
        (uw, uc), (vw, vc), (ow, oc) = update.median(), verify.median(), before.median()
        lines.append(f"| {n} | {_ms(ow)} | {_ms(uw)} | {_ms(vw)} | {ow / vw:.2f}× | "
                     f"{uw / vw:.2f}× | {_ms(oc)} | {_ms(uc)} | {_ms(vc)} | {uc / vc:.2f}× |")
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


async def _populate(host: str, tags: list[str], key: ec.EllipticCurvePrivateKey
                    ) -> tuple[dict[str, str], dict[str, str]]:
    """Two signed images per tag: the first (the old pin), then the one the tag names now."""
    old: dict[str, str] = {}
    new: dict[str, str] = {}
    async with Stores() as stores:
        store = stores.open(Reference(Registry(host), REPO))
        for generation, digests in enumerate((old, new)):
            for i, tag in enumerate(tags):
                image = await put_image(store, REPO, tag, version=tag.split("-")[0],
                                        os_name="ubuntu-22.04", build=i + generation * 100_000)
                layer = sign_image_legacy(key, str(image.digest), f"{host}/{REPO}")
                await push_legacy_signature(store, REPO, image.digest, layer.payload,
                                            dict(layer.annotations))
                digests[tag] = str(image.digest)
    return old, new


def _matrix_file(tmp: Path, case: str, host: str, tags: list[str], digests: dict[str, str],
                 pub: Path) -> Path:
    lines = ["version: 1", "defaults:", f'  registry: "{host}"', f"  repository: {REPO}",
             '  tag: "{version}-{os}"', "  policy: strict", "  trust: [mirror]", "trust:",
             "  mirror:", "    keys:", f"      - path: {pub}", "    tlog: optional", "images:"]
    for tag in tags:
        lines += [f'  - version: "{tag.split("-")[0]}"', "    os: ubuntu-22.04",
                  f"    digest: {digests[tag]}", f"    added: {date.today().isoformat()}"]
    matrix = tmp / f"matrix-{case}-{len(tags)}.yml"
    matrix.write_text("\n".join(lines) + "\n")
    return matrix


def _profile(source: Path, tmp: Path) -> int:
    """One update of the moved matrix in-process under cProfile: the 25 costliest functions by
    cumulative and by own time."""
    import cProfile
    import pstats

    from typer.testing import CliRunner

    from clamp.cli.main import app

    work = tmp / "profile.yml"
    shutil.copyfile(source, work)
    argv = ["update", "--matrix", str(work), "--provenance-output", str(tmp / "p.json"),
            "--concurrency", str(CONCURRENCY), "--json"]
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    result = CliRunner().invoke(app, argv)
    profiler.disable()
    changed = work.read_text() != source.read_text()
    print(f"update, {source.name}: {'rewritten' if changed else 'NOT rewritten'}, "
          f"{time.perf_counter() - start:.2f} s under the profiler")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(25)
    # clamp's own matrix and update work (coroutines count once per resumption)
    stats.sort_stats("cumulative").print_stats(r"clamp/(matrix|update|atomic)|ruamel", 30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
