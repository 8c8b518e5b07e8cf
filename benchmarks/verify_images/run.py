"""Benchmark: verify N signed images through a loopback proxy that adds a delay per request.

By default a scaling table at 8 ... 1024 images (`--quick`: up to 128): the concurrent verifier
in-process (library), the whole `clamp verify --matrix` command (CLI) and the verifier on one
image after another (baseline), medians of `--reps` (5) alternating rounds (method in
benchmarks/scaling.py).

`--detail` gives the single-size report: in one run on one machine, against the network critical
path (the fewest sequential round trips one image needs x the delay):
  - clamp's image verifier, all images concurrently (`clamp.signed.image.verify_image`),
  - the same with httpx's own transport (httpcore) instead of clamp's h11 one (baseline 1),
  - the same verifier on one image after another (baseline 2),
  - the whole `clamp verify --matrix` command on an N-entry matrix (subprocess: start-up, tag
    drift checks and provenance writing included), with its peak memory.
Each line also shows the CPU the client, the proxy and the registry spent: the three share this
machine's cores, which a real network's client does not.

The proxy runs in a process of its own (its CPU does not take the client's interpreter lock);
the registry runs with its access log off (`quiet`), which otherwise costs it more CPU than the
requests.

Usage: python benchmarks/verify_images/run.py [--quick] [--sizes 8,64] [--delay-ms 20]
       python benchmarks/verify_images/run.py --detail [--images 64]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from benchmarks.scaling import (  # noqa: E402
    FULL_SIZES,
    QUICK_SIZES,
    cli_env,
    measure,
    run_timed,
    startup_floor,
    table,
)
from clamp.demo.images import put_image  # noqa: E402
from clamp.location import Registry  # noqa: E402
from clamp.oci.pool import ClientOptions  # noqa: E402
from clamp.oci.reference import Reference, parse_reference  # noqa: E402
from clamp.oci.store import Stores  # noqa: E402
from clamp.signed.attach import push_legacy_signature  # noqa: E402
from clamp.signed.image import verify_image  # noqa: E402
from clamp.trust.keys import PublicKey  # noqa: E402
from clamp.trust.policy import Policy  # noqa: E402
from clamp.trust.sign import sign_image_legacy  # noqa: E402
from tests.support.latency_proxy import ProxyProcess, process_cpu_seconds  # noqa: E402
from tests.support.registry import run_registry  # noqa: E402

REPO = "bench/rocm-dev"
# One image: GET manifest -> (GET .sig manifest | GET referrers fallback tag) -> GET .sig blob.
CRITICAL_ROUND_TRIPS = 3
IN_FLIGHT = 128  # every image's two parallel requests at once: the critical path assumes it


class Run:
    """One measured run: wall time, requests seen by the proxy, CPU per process."""

    def __init__(self, wall: float, requests: int, client: float, proxy: float,
                 registry: float) -> None:
        self.wall, self.requests = wall, requests
        self.client, self.proxy, self.registry = client, proxy, registry

    def cpu(self) -> str:
        return (f"cpu: client {self.client * 1000:4.0f}  proxy {self.proxy * 1000:4.0f}  "
                f"registry {self.registry * 1000:4.0f} ms")


def registry_pid(config_path: Path) -> int:
    for entry in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(entry) as f:
                if str(config_path) in f.read():
                    return int(entry.split("/")[2])
        except OSError:
            continue
    raise SystemExit("cannot find the registry process")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--detail", action="store_true", help="the single-size report")
    parser.add_argument("--images", type=int, default=64, help="with --detail")
    parser.add_argument("--quick", action="store_true", help="8 ... 128 images (< 2 min)")
    parser.add_argument("--sizes", help="comma-separated image counts (default 8 ... 1024)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--sample", type=int, default=None,
                        help="the one-by-one baseline runs on at most this many images per "
                             "size, scaled to the size (default 32; 8 with --quick)")
    parser.add_argument("--delay-ms", type=float, default=20.0)
    args = parser.parse_args()
    return detail(args) if args.detail else scaling(args)


def scaling(args: argparse.Namespace) -> int:
    sizes = tuple(int(x) for x in args.sizes.split(",")) if args.sizes else \
        QUICK_SIZES if args.quick else FULL_SIZES
    sample = args.sample or (8 if args.quick else 32)
    key = ec.generate_private_key(ec.SECP256R1())
    tags = [f"6.{i // 64}.{i % 64}-ubuntu-22.04" for i in range(max(sizes))]
    with tempfile.TemporaryDirectory() as tmp, run_registry("open", quiet=True) as registry:
        digests = asyncio.run(_populate(registry.host, tags, key))
        pub = Path(tmp) / "mirror.pub"
        pub.write_bytes(PublicKey(key.public_key()).pem)
        policy = Policy(keys=(PublicKey(key.public_key()),), require_tlog=False)
        with ProxyProcess(registry.host, delay=args.delay_ms / 1000) as proxy:
            matrices = {n: _matrix_file(Path(tmp), proxy.host, tags[:n], digests, pub)
                        for n in sizes}
            clamp = str(Path(sys.executable).with_name("clamp"))
            env = cli_env()

            def cli(n: int) -> float:
                return run_timed([clamp, "verify", "--matrix", str(matrices[n]), "--output",
                                  str(Path(tmp) / "prov.json"), "--concurrency",
                                  str(IN_FLIGHT // 2), "--json"], env)

            rows = measure(
                sizes, args.reps, sample,
                library=lambda n: _timed(proxy.host, tags[:n], policy, concurrent=True),
                cli=cli,
                baseline=lambda n: _timed(proxy.host, tags[:n], policy, concurrent=False))
    path = CRITICAL_ROUND_TRIPS * args.delay_ms
    print(f"verify N key-signed images, +{args.delay_ms:g} ms per request (critical path "
          f"{CRITICAL_ROUND_TRIPS} round trips = {path:.0f} ms); {IN_FLIGHT} requests in flight; "
          f"medians of {args.reps} alternating rounds; * = one-by-one timed on {sample} images "
          "and scaled")
    print()
    print(table(rows, baseline_name="one by one"))
    print()
    print(startup_floor(args.reps, "import clamp.cli.main, clamp.cli.verify_cmd, "
                        "clamp.cli.verify_matrix_view, clamp.verify.run, clamp.oci.store"))
    return 0


def _timed(host: str, tags: list[str], policy: Policy, *, concurrent: bool) -> float:
    refs = [parse_reference(f"{host}/{REPO}:{tag}") for tag in tags]

    async def run() -> float:
        async with Stores(ClientOptions(max_concurrency=IN_FLIGHT)) as stores:
            store = stores.open(refs[0])
            start = time.perf_counter()
            if concurrent:
                results = await asyncio.gather(*(verify_image(store, r, [policy]) for r in refs))
            else:
                results = [await verify_image(store, r, [policy]) for r in refs]
            elapsed = time.perf_counter() - start
        assert all(r.ok for r in results), next(r.result for r in results if not r.ok)
        return elapsed

    return asyncio.run(run())


def detail(args: argparse.Namespace) -> int:
    key = ec.generate_private_key(ec.SECP256R1())
    tags = [f"6.{i // 8}.{i % 8}-ubuntu-22.04" for i in range(args.images)]
    with tempfile.TemporaryDirectory() as tmp, run_registry("open", quiet=True) as registry:
        digests = asyncio.run(_populate(registry.host, tags, key))
        reg_pid = registry_pid(registry.config_path)
        pub = Path(tmp) / "mirror.pub"
        pub.write_bytes(PublicKey(key.public_key()).pem)
        # Signed as `clamp sign` does, without a log entry: the policy opts out of the log.
        policy = Policy(keys=(PublicKey(key.public_key()),), require_tlog=False)
        with ProxyProcess(registry.host, delay=0.0) as proxy:
            # The same requests with no added delay: what this machine's CPUs (client, proxy
            # and registry sharing two cores) need, whatever the network.
            _library(proxy, reg_pid, tags, policy, concurrent=True)  # warm-up
            floor = _library(proxy, reg_pid, tags, policy, concurrent=True)
        with ProxyProcess(registry.host, delay=args.delay_ms / 1000) as proxy:
            _library(proxy, reg_pid, tags, policy, concurrent=True)  # warm-up
            conc = _library(proxy, reg_pid, tags, policy, concurrent=True)
            httpcore = _library(proxy, reg_pid, tags, policy, concurrent=True,
                                transport="httpcore")
            seq = _library(proxy, reg_pid, tags, policy, concurrent=False)
            cli, rss_mb = _cli(proxy, reg_pid, tags, digests, pub, Path(tmp))
    path = CRITICAL_ROUND_TRIPS * args.delay_ms / 1000
    print(f"verify {len(tags)} signed images, +{args.delay_ms:g} ms per request; critical path "
          f"{CRITICAL_ROUND_TRIPS} round trips = {path * 1000:.0f} ms; {IN_FLIGHT} requests in "
          "flight")
    rows = [("verifier, all concurrently", conc), ("  same, httpx's httpcore transport", httpcore),
            ("verifier, one after another", seq), ("clamp verify --matrix (CLI)", cli),
            ("CPU floor: concurrent, 0 ms delay", floor)]
    for label, run in rows:
        print(f"  {label:36s} {run.wall * 1000:6.0f} ms {run.requests:4d} requests "
              f"{run.wall / path:5.2f}x critical path   {run.cpu()}")
    print(f"  CLI peak RSS {rss_mb:.0f} MiB")
    print(f"  concurrent vs one after another: {seq.wall / conc.wall:5.1f}x faster; h11 vs "
          f"httpcore transport: {httpcore.wall / conc.wall:4.2f}x faster, client CPU "
          f"{httpcore.client / conc.client:4.2f}x lower")
    total = floor.client + floor.proxy + floor.registry
    print(f"  at 0 ms delay the three processes need {total * 1000:.0f} ms of CPU, "
          f"{total / 2 * 1000:.0f} ms of wall time on 2 cores at best; the bar is "
          f"{2 * path * 1000:.0f} ms")
    return 0


async def _populate(host: str, tags: list[str], key: ec.EllipticCurvePrivateKey
                    ) -> dict[str, str]:
    digests: dict[str, str] = {}
    async with Stores() as stores:
        store = stores.open(Reference(Registry(host), REPO))
        for i, tag in enumerate(tags):
            image = await put_image(store, REPO, tag, version=tag.split("-")[0],
                                    os_name="ubuntu-22.04", build=i)
            layer = sign_image_legacy(key, str(image.digest), f"{host}/{REPO}")
            await push_legacy_signature(store, REPO, image.digest, layer.payload,
                                        dict(layer.annotations))
            digests[tag] = str(image.digest)
    return digests


def _library(proxy: ProxyProcess, reg_pid: int, tags: list[str], policy: Policy, *,
             concurrent: bool, transport: str = "h11") -> Run:
    refs = [parse_reference(f"{proxy.host}/{REPO}:{tag}") for tag in tags]

    async def run() -> tuple[float, float]:
        async with Stores(ClientOptions(max_concurrency=IN_FLIGHT)) as stores:
            store = stores.open(refs[0])
            start, cpu = time.perf_counter(), time.process_time()
            if concurrent:
                results = await asyncio.gather(*(verify_image(store, r, [policy]) for r in refs))
            else:
                results = [await verify_image(store, r, [policy]) for r in refs]
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        bad = [r for r in results if not r.ok]
        assert not bad, bad[0].result
        return elapsed, cpu

    proxy.reset()
    proxy_cpu, reg_cpu = proxy.cpu_seconds(), process_cpu_seconds(reg_pid)
    os.environ["CLAMP_HTTP_TRANSPORT"] = transport
    try:
        elapsed, client_cpu = asyncio.run(run())
    finally:
        del os.environ["CLAMP_HTTP_TRANSPORT"]
    return Run(elapsed, proxy.request_count, client_cpu, proxy.cpu_seconds() - proxy_cpu,
               process_cpu_seconds(reg_pid) - reg_cpu)


def _matrix_file(tmp: Path, host: str, tags: list[str], digests: dict[str, str],
                 pub: Path) -> Path:
    lines = ["version: 1", "defaults:", f'  registry: "{host}"', f"  repository: {REPO}",
             '  tag: "{version}-{os}"', "  policy: strict", "  trust: [mirror]", "trust:",
             "  mirror:", "    keys:", f"      - path: {pub}", "    tlog: optional", "images:"]
    for tag in tags:
        lines += [f'  - version: "{tag.split("-")[0]}"', "    os: ubuntu-22.04",
                  f"    digest: {digests[tag]}", f"    added: {date.today().isoformat()}"]
    matrix = tmp / f"matrix-{len(tags)}.yml"
    matrix.write_text("\n".join(lines) + "\n")
    return matrix


def _cli(proxy: ProxyProcess, reg_pid: int, tags: list[str], digests: dict[str, str],
         pub: Path, tmp: Path) -> tuple[Run, float]:
    matrix = _matrix_file(tmp, proxy.host, tags, digests, pub)
    clamp = Path(sys.executable).with_name("clamp")
    proxy.reset()
    proxy_cpu, reg_cpu = proxy.cpu_seconds(), process_cpu_seconds(reg_pid)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([str(clamp), "verify", "--matrix", str(matrix), "--output",
                           str(tmp / "prov.json"), "--concurrency", str(IN_FLIGHT // 2),
                           "--json"], capture_output=True, text=True, check=False,
                          env=cli_env())
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"clamp verify failed ({proc.returncode}): {proc.stderr[-500:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    run = Run(elapsed, proxy.request_count, client_cpu, proxy.cpu_seconds() - proxy_cpu,
              process_cpu_seconds(reg_pid) - reg_cpu)
    return run, after.ru_maxrss / 1024


if __name__ == "__main__":
    raise SystemExit(main())
