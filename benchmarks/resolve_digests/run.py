"""Benchmark: resolve N tags to digests through a loopback proxy that adds a delay per request.

Compares, in one run on one machine:
  - clamp's resolver in-process (`clamp.oci.resolve.resolve_many`: concurrent GETs, each manifest
    hashed),
  - the whole `clamp resolve --check` command (a subprocess, start-up included) on an N-entry
    matrix,
  - the baseline: `skopeo inspect --format '{{.Digest}}'` run once per tag, one after another.
The proxy runs in its own process and the registry with its access log off, as in verify_images.

Usage: python benchmarks/resolve_digests/run.py [--tags 64] [--delay-ms 20] [--skopeo-tags N]
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

from clamp.oci.reference import parse_reference  # noqa: E402
from clamp.oci.resolve import resolve_many  # noqa: E402
from clamp.oci.store import Stores  # noqa: E402
from tests.support.latency_proxy import ProxyProcess  # noqa: E402
from tests.support.pushing import RegistryPusher, push_image  # noqa: E402
from tests.support.registry import run_registry  # noqa: E402

REPO = "bench/rocm-dev"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tags", type=int, default=64)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--skopeo-tags", type=int, default=None,
                        help="run skopeo on only this many tags and scale (default: all)")
    args = parser.parse_args()
    if shutil.which("skopeo") is None:
        print("skopeo is not installed (apt-get install skopeo)", file=sys.stderr)
        return 2
    tags = [f"6.{i // 8}.{i % 8}-ubuntu-22.04" for i in range(args.tags)]
    with run_registry("open", quiet=True) as registry:
        with RegistryPusher.for_registry(registry) as pusher:
            expected = {tag: push_image(pusher, REPO, tag, seed=i).digest
                        for i, tag in enumerate(tags)}
        with ProxyProcess(registry.host, delay=args.delay_ms / 1000) as proxy:
            lib_s, lib_requests = _clamp_library(proxy, tags, expected)
            cli_s, cli_requests = _clamp_cli(proxy, tags, expected)
            n_skopeo = args.skopeo_tags or len(tags)
            skopeo_s, skopeo_requests = _skopeo(proxy, tags[:n_skopeo], expected)
    skopeo_full = skopeo_s * len(tags) / n_skopeo
    floor = args.delay_ms / 1000
    print(f"resolve {len(tags)} tags, +{args.delay_ms:g} ms per request "
          f"(network floor: one round trip = {floor * 1000:.0f} ms)")
    print(f"  clamp (library, concurrent)  {lib_s * 1000:8.0f} ms  {lib_requests:4d} requests")
    print(f"  clamp resolve --check (CLI)  {cli_s * 1000:8.0f} ms  {cli_requests:4d} requests")
    scaled = "" if n_skopeo == len(tags) else f" (measured {n_skopeo}, scaled)"
    print(f"  skopeo inspect loop          {skopeo_full * 1000:8.0f} ms  "
          f"{skopeo_requests:4d} requests{scaled}")
    print(f"  speed-up vs skopeo: library {skopeo_full / lib_s:5.1f}x, "
          f"CLI {skopeo_full / cli_s:5.1f}x")
    return 0


def _clamp_library(proxy: ProxyProcess, tags: list[str],
                   expected: dict[str, str]) -> tuple[float, int]:
    refs = [(parse_reference(f"{proxy.host}/{REPO}:{tag}"), None) for tag in tags]

    async def run() -> float:
        async with Stores() as stores:
            start = time.perf_counter()
            outcomes = await resolve_many(stores, refs)
            elapsed = time.perf_counter() - start
        for outcome in outcomes:
            assert outcome.image is not None, outcome.error
            assert str(outcome.image.digest) == expected[outcome.reference.tag or ""]
        return elapsed

    proxy.reset()
    elapsed = asyncio.run(run())
    return elapsed, proxy.request_count


def _clamp_cli(proxy: ProxyProcess, tags: list[str],
               expected: dict[str, str]) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        matrix = Path(tmp) / "matrix.yml"
        lines = ["version: 1", "defaults:", f'  registry: "{proxy.host}"',
                 f"  repository: {REPO}", '  tag: "{version}-{os}"', "  policy: warn",
                 "images:"]
        for tag in tags:
            version = tag.split("-", 1)[0]
            lines += [f'  - version: "{version}"', "    os: ubuntu-22.04",
                      f"    digest: {expected[tag]}", f"    added: {date.today().isoformat()}"]
        matrix.write_text("\n".join(lines) + "\n")
        clamp = Path(sys.executable).with_name("clamp")
        proxy.reset()
        start = time.perf_counter()
        proc = subprocess.run([str(clamp), "resolve", "--matrix", str(matrix), "--check",
                               "--json"], capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"clamp resolve --check failed ({proc.returncode}): {proc.stderr}")
    return elapsed, proxy.request_count


def _skopeo(proxy: ProxyProcess, tags: list[str], expected: dict[str, str]) -> tuple[float, int]:
    env = dict(os.environ, HOME=tempfile.mkdtemp())
    proxy.reset()
    start = time.perf_counter()
    for tag in tags:
        out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--format",
                              "{{.Digest}}", f"docker://{proxy.host}/{REPO}:{tag}"],
                             capture_output=True, text=True, check=True, env=env)
        assert out.stdout.strip() == expected[tag], (tag, out.stdout)
    return time.perf_counter() - start, proxy.request_count


if __name__ == "__main__":
    raise SystemExit(main())
