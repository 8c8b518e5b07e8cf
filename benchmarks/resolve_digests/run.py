"""Benchmark: resolve N tags to digests through a loopback proxy that adds a delay per request.

Compares, in one run on one machine, at 8 ... 1024 tags (`--quick`: up to 128):
  - clamp's resolver in-process (`clamp.oci.resolve.resolve_many`: concurrent GETs, each manifest
    hashed),
  - the whole `clamp resolve --check` command (a subprocess, start-up included) on an N-entry
    matrix,
  - the baseline: `skopeo inspect --format '{{.Digest}}'` run once per tag, one after another.
Medians of `--reps` (5) alternating rounds; the method is in benchmarks/scaling.py. The proxy
runs in its own process and the registry with its access log off, as in verify_images.

Usage: python benchmarks/resolve_digests/run.py [--quick] [--sizes 8,64] [--delay-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.scaling import (  # noqa: E402
    FULL_SIZES,
    QUICK_SIZES,
    measure,
    run_timed,
    startup_floor,
    table,
)
from clamp.oci.reference import parse_reference  # noqa: E402
from clamp.oci.resolve import resolve_many  # noqa: E402
from clamp.oci.store import Stores  # noqa: E402
from tests.support.latency_proxy import ProxyProcess  # noqa: E402
from tests.support.pushing import RegistryPusher, push_image  # noqa: E402
from tests.support.registry import run_registry  # noqa: E402

REPO = "bench/rocm-dev"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 ... 128 tags (< 2 min)")
    parser.add_argument("--sizes", help="comma-separated tag counts (default 8 ... 1024)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--skopeo-sample", type=int, default=None,
                        help="skopeo runs on at most this many tags per size, scaled to the "
                             "size (default 32; 8 with --quick)")
    args = parser.parse_args()
    if shutil.which("skopeo") is None:
        print("skopeo is not installed (apt-get install skopeo)", file=sys.stderr)
        return 2
    sizes = tuple(int(x) for x in args.sizes.split(",")) if args.sizes else \
        QUICK_SIZES if args.quick else FULL_SIZES
    sample = args.skopeo_sample or (8 if args.quick else 32)
    tags = [f"6.{i // 8}.{i % 8}-ubuntu-22.04" for i in range(max(sizes))]
    with run_registry("open", quiet=True) as registry, tempfile.TemporaryDirectory() as tmp:
        with RegistryPusher.for_registry(registry) as pusher:
            expected = {tag: push_image(pusher, REPO, tag, seed=i).digest
                        for i, tag in enumerate(tags)}
        with ProxyProcess(registry.host, delay=args.delay_ms / 1000) as proxy:
            matrices = {n: _matrix(Path(tmp), proxy.host, tags[:n], expected) for n in sizes}
            home = tempfile.mkdtemp(dir=tmp)
            rows = measure(
                sizes, args.reps, sample,
                library=lambda n: _clamp_library(proxy.host, tags[:n], expected),
                cli=lambda n: _clamp_cli(matrices[n]),
                baseline=lambda n: _skopeo(proxy.host, tags[:n], expected, home))
    print(f"resolve N tags, +{args.delay_ms:g} ms per request (network floor: one round trip "
          f"= {args.delay_ms:.0f} ms); medians of {args.reps} alternating rounds; "
          f"* = skopeo timed on {sample} tags and scaled")
    print()
    print(table(rows, baseline_name="skopeo loop"))
    print()
    print(startup_floor(args.reps, "import clamp.cli.main, clamp.cli.resolve_cmd, "
                        "clamp.oci.store, clamp.verify.entry, clamp.matrix.loader"))
    return 0


def _clamp_library(host: str, tags: list[str], expected: dict[str, str]) -> float:
    refs = [(parse_reference(f"{host}/{REPO}:{tag}"), None) for tag in tags]

    async def run() -> float:
        async with Stores() as stores:
            start = time.perf_counter()
            outcomes = await resolve_many(stores, refs)
            elapsed = time.perf_counter() - start
        for outcome in outcomes:
            assert outcome.image is not None, outcome.error
            assert str(outcome.image.digest) == expected[outcome.reference.tag or ""]
        return elapsed

    return asyncio.run(run())


def _matrix(tmp: Path, host: str, tags: list[str], expected: dict[str, str]) -> Path:
    matrix = tmp / f"matrix-{len(tags)}.yml"
    lines = ["version: 1", "defaults:", f'  registry: "{host}"', f"  repository: {REPO}",
             '  tag: "{version}-{os}"', "  policy: warn", "images:"]
    for tag in tags:
        version = tag.split("-", 1)[0]
        lines += [f'  - version: "{version}"', "    os: ubuntu-22.04",
                  f"    digest: {expected[tag]}", f"    added: {date.today().isoformat()}"]
    matrix.write_text("\n".join(lines) + "\n")
    return matrix


def _clamp_cli(matrix: Path) -> float:
    clamp = Path(sys.executable).with_name("clamp")
    return run_timed([str(clamp), "resolve", "--matrix", str(matrix), "--check", "--json"])


def _skopeo(host: str, tags: list[str], expected: dict[str, str], home: str) -> float:
    env = dict(os.environ, HOME=home)
    start = time.perf_counter()
    for tag in tags:
        out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--format",
                              "{{.Digest}}", f"docker://{host}/{REPO}:{tag}"],
                             capture_output=True, text=True, check=True, env=env)
        assert out.stdout.strip() == expected[tag], (tag, out.stdout)
    return time.perf_counter() - start


if __name__ == "__main__":
    raise SystemExit(main())
