"""Benchmark: verify N signed images through a loopback proxy that adds a delay per request.

Compares, in one run on one machine, against the network critical path (the fewest sequential
round trips one image needs x the delay):
  - clamp's image verifier, all images concurrently (`clamp.verify.image.verify_image`),
  - the same verifier on one image after another (the baseline),
  - the whole `clamp verify --matrix` command on an N-entry matrix (subprocess: start-up, tag
    drift checks and provenance writing included), with its peak memory.

Usage: python benchmarks/verify_images/run.py [--images 64] [--delay-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
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

from clamp.demo.images import put_image  # noqa: E402
from clamp.oci.reference import Reference, parse_reference  # noqa: E402
from clamp.oci.signatures import push_legacy_signature  # noqa: E402
from clamp.oci.store import Stores  # noqa: E402
from clamp.trust.keys import PublicKey  # noqa: E402
from clamp.trust.policy import Policy  # noqa: E402
from clamp.trust.sign import sign_image_legacy  # noqa: E402
from clamp.verify.image import verify_image  # noqa: E402
from tests.support.latency_proxy import LatencyProxy  # noqa: E402
from tests.support.registry import run_registry  # noqa: E402

REPO = "bench/rocm-dev"
# One image: GET manifest -> (GET .sig manifest | GET referrers fallback tag) -> GET .sig blob.
CRITICAL_ROUND_TRIPS = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    args = parser.parse_args()
    key = ec.generate_private_key(ec.SECP256R1())
    tags = [f"6.{i // 8}.{i % 8}-ubuntu-22.04" for i in range(args.images)]
    with tempfile.TemporaryDirectory() as tmp, run_registry("open") as registry:
        digests = asyncio.run(_populate(registry.host, tags, key))
        pub = Path(tmp) / "mirror.pub"
        pub.write_bytes(PublicKey(key.public_key()).pem)
        policy = Policy(keys=(PublicKey(key.public_key()),))
        with LatencyProxy(registry.host, delay=0.0) as proxy:
            # The same requests with no added delay: what this machine's CPUs (client, proxy
            # and registry sharing two cores) need, whatever the network.
            floor_s, _ = _library(proxy, tags, policy, concurrent=True)
        with LatencyProxy(registry.host, delay=args.delay_ms / 1000) as proxy:
            conc_s, conc_n = _library(proxy, tags, policy, concurrent=True)
            seq_s, seq_n = _library(proxy, tags, policy, concurrent=False)
            cli_s, cli_n, rss_mb = _cli(proxy, tags, digests, pub, Path(tmp))
    floor = CRITICAL_ROUND_TRIPS * args.delay_ms / 1000
    print(f"verify {len(tags)} signed images, +{args.delay_ms:g} ms per request; critical path "
          f"{CRITICAL_ROUND_TRIPS} round trips = {floor * 1000:.0f} ms")
    print(f"  verifier, all concurrently   {conc_s * 1000:8.0f} ms  {conc_n:4d} requests  "
          f"{conc_s / floor:5.2f}x critical path")
    print(f"  verifier, one after another  {seq_s * 1000:8.0f} ms  {seq_n:4d} requests  "
          f"{seq_s / floor:5.2f}x critical path")
    print(f"  clamp verify --matrix (CLI)  {cli_s * 1000:8.0f} ms  {cli_n:4d} requests  "
          f"{cli_s / floor:5.2f}x critical path, peak RSS {rss_mb:.0f} MiB")
    print(f"  concurrent vs sequential: {seq_s / conc_s:5.1f}x faster")
    print(f"  CPU floor (same requests, 0 ms delay, concurrent): {floor_s * 1000:.0f} ms; the "
          f"concurrent verifier is {conc_s / floor_s:.2f}x that floor")
    return 0


async def _populate(host: str, tags: list[str], key: ec.EllipticCurvePrivateKey
                    ) -> dict[str, str]:
    digests: dict[str, str] = {}
    async with Stores() as stores:
        store = stores.open(Reference(host, REPO))
        for i, tag in enumerate(tags):
            image = await put_image(store, REPO, tag, version=tag.split("-")[0],
                                    os_name="ubuntu-22.04", build=i)
            layer = sign_image_legacy(key, str(image.digest), f"{host}/{REPO}")
            await push_legacy_signature(store, REPO, image.digest, layer.payload,
                                        dict(layer.annotations))
            digests[tag] = str(image.digest)
    return digests


def _library(proxy: LatencyProxy, tags: list[str], policy: Policy, *,
             concurrent: bool) -> tuple[float, int]:
    refs = [parse_reference(f"{proxy.host}/{REPO}:{tag}") for tag in tags]

    async def run() -> float:
        async with Stores() as stores:
            store = stores.open(refs[0])
            start = time.perf_counter()
            if concurrent:
                results = await asyncio.gather(*(verify_image(store, r, [policy]) for r in refs))
            else:
                results = [await verify_image(store, r, [policy]) for r in refs]
            elapsed = time.perf_counter() - start
        bad = [r for r in results if not r.ok]
        assert not bad, bad[0].result
        return elapsed

    proxy.reset()
    elapsed = asyncio.run(run())
    return elapsed, proxy.request_count


def _cli(proxy: LatencyProxy, tags: list[str], digests: dict[str, str], pub: Path,
         tmp: Path) -> tuple[float, int, float]:
    lines = ["version: 1", "defaults:", f'  registry: "{proxy.host}"', f"  repository: {REPO}",
             '  tag: "{version}-{os}"', "  policy: strict", "  trust: [mirror]", "trust:",
             "  mirror:", "    keys:", f"      - path: {pub}", "    tlog: optional", "images:"]
    for tag in tags:
        lines += [f'  - version: "{tag.split("-")[0]}"', "    os: ubuntu-22.04",
                  f"    digest: {digests[tag]}", f"    added: {date.today().isoformat()}"]
    matrix = tmp / "matrix.yml"
    matrix.write_text("\n".join(lines) + "\n")
    clamp = Path(sys.executable).with_name("clamp")
    proxy.reset()
    start = time.perf_counter()
    proc = subprocess.run([str(clamp), "verify", "--matrix", str(matrix), "--output",
                           str(tmp / "prov.json"), "--concurrency", "64", "--json"],
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"clamp verify failed ({proc.returncode}): {proc.stderr[-500:]}")
    rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, proxy.request_count, rss_kib / 1024


if __name__ == "__main__":
    raise SystemExit(main())
