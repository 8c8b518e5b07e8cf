"""The connection side of registry access: client options and the pool that owns the
connections, shared by every per-host `RegistryClient`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from clamp.oci.auth import Credentials, TokenCache, credentials_for
from clamp.oci.reference import is_loopback_host
from clamp.oci.registry import RegistryClient
from clamp.oci.retry import RetryPolicy


@dataclass(frozen=True)
class ClientOptions:
    insecure_registries: frozenset[str] = frozenset()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    attempt_deadline: float = 60.0  # one attempt, start to last byte
    max_concurrency: int = 32
    transport: httpx.AsyncBaseTransport | None = None
    credentials: Mapping[str, Credentials] = field(default_factory=dict)

    @classmethod
    def from_env(cls, insecure: Iterable[str] = (), **kwargs: Any) -> ClientOptions:
        """Options from the environment: CLAMP_INSECURE_REGISTRIES (comma-separated hosts),
        CLAMP_RETRY_ATTEMPTS and CLAMP_RETRY_MAX_WAIT (seconds) to tune the retry bounds."""
        listed = {h.strip() for h in os.environ.get("CLAMP_INSECURE_REGISTRIES", "").split(",")}
        if "retry" not in kwargs:
            kwargs["retry"] = _retry_from_env()
        return cls(insecure_registries=frozenset(h for h in (*listed, *insecure) if h), **kwargs)


def _retry_from_env() -> RetryPolicy:
    from clamp.errors import BadInputError

    default = RetryPolicy()
    try:
        attempts = int(os.environ.get("CLAMP_RETRY_ATTEMPTS", default.attempts))
        max_wait = float(os.environ.get("CLAMP_RETRY_MAX_WAIT", default.max_wait))
    except ValueError:
        raise BadInputError("CLAMP_RETRY_ATTEMPTS/CLAMP_RETRY_MAX_WAIT must be numbers") \
            from None
    if not 1 <= attempts <= 20 or not 0 <= max_wait <= 300:
        raise BadInputError("CLAMP_RETRY_ATTEMPTS must be 1-20 and CLAMP_RETRY_MAX_WAIT 0-300")
    return RetryPolicy(attempts=attempts, max_wait=max_wait,
                       initial=min(default.initial, max_wait))


SHARD_CONNECTIONS = 8


class RegistryPool:
    """Owns the HTTP connection pools and one client per registry host. Use as `async with`.

    Connections are spread over several small httpx clients ("shards") instead of one big pool:
    httpcore's pool does work quadratic in its size on every request, which at 32 connections
    cost ~3x the CPU of the whole request. The semaphore still bounds the total in flight.
    """

    def __init__(self, options: ClientOptions | None = None) -> None:
        self.options = options or ClientOptions.from_env()
        per_shard = min(SHARD_CONNECTIONS, self.options.max_concurrency)
        shards = -(-self.options.max_concurrency // per_shard)
        limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        timeout = httpx.Timeout(self.options.read_timeout, connect=self.options.connect_timeout)
        self.shards = [
            httpx.AsyncClient(limits=limits, timeout=timeout, follow_redirects=True,
                              max_redirects=5, transport=self.options.transport,
                              headers={"User-Agent": "clamp/0.1"}, trust_env=False)
            for _ in range(shards)]
        self._next_shard = 0
        self.tokens = TokenCache()
        self.semaphore = asyncio.Semaphore(self.options.max_concurrency)
        self._clients: dict[str, RegistryClient] = {}

    def client(self, registry: str) -> RegistryClient:
        if registry not in self._clients:
            creds = self.options.credentials.get(registry) or credentials_for(registry)
            self._clients[registry] = RegistryClient(registry, self, creds)
        return self._clients[registry]

    def scheme_for(self, host: str) -> str:
        plain = is_loopback_host(host) or host in self.options.insecure_registries
        return "http" if plain else "https"

    def http(self) -> httpx.AsyncClient:
        """The next shard, round robin."""
        self._next_shard = (self._next_shard + 1) % len(self.shards)
        return self.shards[self._next_shard]

    async def aclose(self) -> None:
        for shard in self.shards:
            await shard.aclose()

    async def __aenter__(self) -> RegistryPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
