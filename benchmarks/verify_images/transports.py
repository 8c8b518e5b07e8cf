"""Benchmark: client CPU per registry request, clamp's transport vs aiohttp (issue 16).

The requests of a manifest walk (256 GETs of 64 manifests, 128 in flight) through the latency
proxy, four ways, in one run, alternating, median of `--reps` (5):
  - httpx on clamp's h11 transport (clamp.oci.transport, what clamp uses),
  - httpx on its own transport (httpcore; CLAMP_HTTP_TRANSPORT=httpcore),
  - httpx on a minimal aiohttp transport (aiohttp under clamp's registry client),
  - aiohttp alone (a ClientSession: what replacing httpx altogether could reach).
aiohttp is not a clamp dependency: `pip install aiohttp` to run this.

Usage: python benchmarks/verify_images/transports.py [--reps 5] [--delay-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from clamp.oci.transport import H11Transport  # noqa: E402
from tests.support.latency_proxy import ProxyProcess  # noqa: E402
from tests.support.pushing import RegistryPusher, push_image  # noqa: E402
from tests.support.registry import run_registry  # noqa: E402

REPO = "bench/rocm-dev"
IN_FLIGHT = 128
ACCEPT = {"Accept": "application/vnd.oci.image.manifest.v1+json, "
                    "application/vnd.oci.image.index.v1+json"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    args = parser.parse_args()
    try:
        import aiohttp
    except ImportError:
        print("aiohttp is not installed (pip install aiohttp)", file=sys.stderr)
        return 2
    tags = [f"6.{i // 8}.{i % 8}-ubuntu-22.04" for i in range(64)]
    with run_registry("open", quiet=True) as registry:
        with RegistryPusher.for_registry(registry) as pusher:
            for i, tag in enumerate(tags):
                push_image(pusher, REPO, tag, seed=i)
        with ProxyProcess(registry.host, delay=args.delay_ms / 1000) as proxy:
            urls = [f"http://{proxy.host}/v2/{REPO}/manifests/{t}" for t in tags] * 4
            variants: dict[str, Callable[[], Awaitable[None]]] = {
                "httpx + clamp's h11 transport": lambda: _httpx(urls, H11Transport(
                    max_idle_per_origin=IN_FLIGHT)),
                "httpx + httpcore (httpx's own)": lambda: _httpx(urls, httpx.AsyncHTTPTransport(
                    limits=httpx.Limits(max_connections=IN_FLIGHT))),
                "httpx + aiohttp transport": lambda: _httpx(urls, _AiohttpTransport(aiohttp)),
                "aiohttp alone": lambda: _aiohttp(aiohttp, urls),
            }
            runs: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
            for rep in range(args.reps + 1):
                for name, variant in variants.items():
                    wall, cpu = time.perf_counter(), time.process_time()
                    asyncio.run(variant())
                    if rep:  # the first round warms up
                        runs[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    print(f"{len(urls)} manifest GETs, {IN_FLIGHT} in flight, +{args.delay_ms:g} ms per "
          f"request; medians of {args.reps} alternating rounds")
    print()
    print("| client | wall | client CPU | CPU per request |")
    print("|---|---:|---:|---:|")
    for name, values in runs.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(f"| {name} | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms | "
              f"{cpu / len(urls) * 1000:.2f} ms |")
    return 0


async def _httpx(urls: list[str], transport: httpx.AsyncBaseTransport) -> None:
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
        async def one(url: str) -> None:
            async with gate:
                response = await client.send(client.build_request("GET", url, headers=ACCEPT),
                                             stream=True)
                body = b"".join([part async for part in response.aiter_raw()])
                await response.aclose()
                assert response.status_code == 200 and body
        await asyncio.gather(*(one(u) for u in urls))


async def _aiohttp(aiohttp: Any, urls: list[str]) -> None:
    gate = asyncio.Semaphore(IN_FLIGHT)
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(auto_decompress=False, connector=connector) as session:
        async def one(url: str) -> None:
            async with gate, session.get(url, headers=ACCEPT, allow_redirects=False) as r:
                body = b"".join([chunk async for chunk in r.content.iter_any()])
                assert r.status == 200 and body
        await asyncio.gather(*(one(u) for u in urls))


class _AiohttpTransport(httpx.AsyncBaseTransport):
    """The least an httpx transport on aiohttp needs (no TLS options, no streaming)."""

    def __init__(self, aiohttp: Any) -> None:
        self._aiohttp = aiohttp
        self._session: Any = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._aiohttp.ClientSession(
                auto_decompress=False, connector=self._aiohttp.TCPConnector(limit=IN_FLIGHT))
        headers = [(k.decode(), v.decode()) for k, v in request.headers.raw]
        async with self._session.request(request.method, str(request.url), headers=headers,
                                         allow_redirects=False) as r:
            body = await r.read()
            return httpx.Response(r.status, headers=list(r.raw_headers),
                                  stream=httpx.ByteStream(body))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


if __name__ == "__main__":
    raise SystemExit(main())
