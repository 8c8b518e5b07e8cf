"""The connection side of registry access: client options and the pool that owns the
connections, shared by every per-host `RegistryClient`."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from clamp.oci.auth import Credentials, TokenStore
from clamp.oci.body import ACCEPT_ENCODING
from clamp.oci.credentials import credentials_for
from clamp.oci.informational import bound_informational
from clamp.oci.reference import is_loopback_host
from clamp.oci.registry import RegistryClient, check_scheme
from clamp.oci.retry import RetryPolicy
from clamp.oci.transport import H11Transport, default_ssl_context

DEFAULT_IN_FLIGHT = 32  # requests in flight unless a command's --concurrency asks for more


@dataclass(frozen=True)
class ClientOptions:
    insecure_registries: frozenset[str] = frozenset()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    attempt_deadline: float = 60.0  # one attempt, start to last byte
    request_budget: float = 120.0  # one call's network time, all its attempts and tokens
    max_concurrency: int = DEFAULT_IN_FLIGHT
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


def transport_choice() -> str:
    """CLAMP_HTTP_TRANSPORT: `h11` (clamp's, the default) or `httpcore` (httpx's own: a way out
    should a server trip over the h11 one, and the benchmarks' baseline)."""
    choice = os.environ.get("CLAMP_HTTP_TRANSPORT", "h11")
    if choice not in ("h11", "httpcore"):
        from clamp.errors import BadInputError

        raise BadInputError(f"CLAMP_HTTP_TRANSPORT must be h11 or httpcore, not {choice!r}")
    return choice


def default_transport(max_connections: int, choice: str) -> httpx.AsyncBaseTransport:
    """The transport `choice` (from `transport_choice()`) names."""
    if choice == "httpcore":
        limits = httpx.Limits(max_connections=max_connections,
                              max_keepalive_connections=max_connections)
        transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
        bound_informational([transport])  # a sixth 1xx head is refused here too
        return transport
    return H11Transport(max_idle_per_origin=max_connections)


# Requests to these never go through a proxy: local registries (the demo's, a test's).
LOOPBACK_PATTERNS = ("all://127.0.0.1", "all://localhost", "all://[::1]")


def environment_proxies() -> dict[str, str]:
    """The HTTP(S)/ALL proxies the environment names (either case), as urllib reads them. One
    that is no URL httpx can use (`::::`, a port past 65535) is bad input naming its variable,
    found before anything is sent."""
    from urllib.request import getproxies_environment

    found = {k: v for k, v in getproxies_environment().items()
             if k in ("http", "https", "all") and v}
    for kind, value in found.items():
        try:
            url = httpx.URL(value if "://" in value else f"http://{value}")
            usable = (bool(url.host) and url.scheme in ("http", "https", "socks5", "socks5h")
                      and (url.port is None or 1 <= url.port <= 65535))
        except (httpx.InvalidURL, ValueError, TypeError):
            usable = False
        if not usable:
            from clamp.errors import BadInputError

            shown = re.sub(r"^([^/]*//)?[^/@]*@", r"\1***@", value)  # never a proxy password
            raise BadInputError(f"unusable proxy {shown[:80]!r}: not an http(s) or socks5 "
                                "proxy URL", where=f"{kind.upper()}_PROXY")
    return found


def http_client_settings() -> dict[str, Any]:
    """What any other httpx client clamp opens (the workflow dispatch) needs to reach a server
    the way the registry client does: the CA bundle of SSL_CERT_FILE / SSL_CERT_DIR (else
    certifi's), the environment's proxies with loopback always direct, and nothing else taken
    from the environment."""
    if environment_proxies():
        return {"verify": default_ssl_context(), "trust_env": True,
                "mounts": dict.fromkeys(LOOPBACK_PATTERNS)}
    return {"verify": default_ssl_context(), "trust_env": False}


class RegistryPool:
    """Owns the HTTP connections and one client per registry host. Use as `async with`.

    One httpx client on clamp's h11 transport (clamp.oci.transport): httpcore's pool cost more
    CPU per request than the request itself on a many-image walk. The semaphore bounds the
    requests in flight; the transport keeps one idle connection per finished request for reuse.
    When the environment names a proxy, httpx's own transports are used instead (they speak to
    proxies; the h11 one does not).
    """

    def __init__(self, options: ClientOptions | None = None) -> None:
        self.options = options or ClientOptions.from_env()
        timeout = httpx.Timeout(self.options.read_timeout, connect=self.options.connect_timeout)
        # Redirects are followed by clamp.oci.exchange (not httpx), under clamp's rule for
        # what may go on to another host, and their bodies are never read.
        common: dict[str, Any] = {"timeout": timeout, "follow_redirects": False,
                                  "headers": {"User-Agent": "clamp/0.1",
                                              "Accept-Encoding": ACCEPT_ENCODING},
                                  "event_hooks": {"request": [self._refuse_plain_http]}}
        choice = transport_choice()  # validated even when a proxy decides the transport
        if self.options.transport is None and environment_proxies():
            # Behind a proxy (self-hosted GPU runners often are): httpx's own transports, which
            # honour HTTP(S)_PROXY, ALL_PROXY and NO_PROXY. Loopback stays direct.
            n = self.options.max_concurrency
            try:
                self._http = httpx.AsyncClient(
                    **common, trust_env=True, verify=default_ssl_context(),
                    limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                    mounts=dict.fromkeys(LOOPBACK_PATTERNS))
            except (ValueError, ImportError, httpx.InvalidURL) as exc:  # unusable proxy
                from clamp.errors import BadInputError

                raise BadInputError(f"unusable proxy ({exc})",
                                    where="HTTPS_PROXY/HTTP_PROXY/ALL_PROXY") from None
            # The transports httpx built from the environment: a sixth 1xx head is refused
            # on them as on clamp's own (clamp.oci.informational).
            bound_informational([getattr(self._http, "_transport", None),
                                 *getattr(self._http, "_mounts", {}).values()])
        else:
            transport = self.options.transport or default_transport(
                self.options.max_concurrency, choice)
            self._http = httpx.AsyncClient(**common, transport=transport, trust_env=False)
        self.tokens = TokenStore()
        #: URLs check_scheme passed (clamp.oci.exchange): the same URL is not parsed twice.
        self.passed_urls: set[str] = set()
        self.semaphore = asyncio.Semaphore(self.options.max_concurrency)
        self._clients: dict[str, RegistryClient] = {}

    def client(self, registry: str) -> RegistryClient:
        if registry not in self._clients:
            creds = self.options.credentials.get(registry) or credentials_for(registry)
            self._clients[registry] = RegistryClient(registry, self, creds)
        return self._clients[registry]

    async def _refuse_plain_http(self, request: httpx.Request) -> None:
        """Every request httpx sends, redirects included, under the same scheme rule as the
        first URL: this catches a registry (or a CDN it redirects to) that sends clamp on to
        an `http://` URL."""
        check_scheme(str(request.url), self, where=request.url.netloc.decode("ascii", "replace"),
                     what="redirect to")

    def scheme_for(self, host: str) -> str:
        plain = is_loopback_host(host) or host in self.options.insecure_registries
        return "http" if plain else "https"

    def http(self) -> httpx.AsyncClient:
        return self._http

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> RegistryPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
