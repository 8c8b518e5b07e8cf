"""Behind a proxy: HTTP(S)_PROXY from the environment is honoured, loopback stays direct.

The proxy is tests/support/latency_proxy.py (0 ms delay) used as a plain-HTTP forward proxy in
front of Debian's docker-registry: the client names the registry by a host that only the proxy
can reach (`registry.test`), so a request that arrives at all went through the proxy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from clamp.oci.pool import ClientOptions
from clamp.oci.reference import parse_reference
from clamp.oci.resolve import resolve
from clamp.oci.store import Stores
from tests.support.latency_proxy import LatencyProxy
from tests.support.pushing import RegistryPusher, push_image
from tests.support.registry import RegistryHandle

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def proxy(registry: RegistryHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[LatencyProxy]:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with LatencyProxy(registry.host, delay=0.0) as running:
        monkeypatch.setenv("HTTP_PROXY", running.url)
        yield running


def _resolve(reference: str, options: ClientOptions) -> str:
    async def go() -> str:
        async with Stores(options) as stores:
            ref = parse_reference(reference)
            return str((await resolve(stores.open(ref), ref)).digest)
    return asyncio.run(go())


def test_registry_reached_through_the_environment_proxy(
        proxy: LatencyProxy, registry: RegistryHandle, repo_name: str,
        make_pusher: Callable[..., RegistryPusher]) -> None:
    pushed = push_image(make_pusher(registry), repo_name, "t")
    host = f"registry.test:{registry.port}"  # resolvable only by asking the proxy
    options = ClientOptions(insecure_registries=frozenset({host}))
    assert _resolve(f"{host}/{repo_name}:t", options) == pushed.digest
    targets = [r.target for r in proxy.records()]
    assert targets and all(t.startswith(f"http://{host}/v2/") for t in targets)


def test_loopback_registry_bypasses_the_proxy(
        proxy: LatencyProxy, registry: RegistryHandle, repo_name: str,
        make_pusher: Callable[..., RegistryPusher]) -> None:
    pushed = push_image(make_pusher(registry), repo_name, "t")
    assert _resolve(f"{registry.host}/{repo_name}:t", ClientOptions()) == pushed.digest
    assert proxy.request_count == 0
