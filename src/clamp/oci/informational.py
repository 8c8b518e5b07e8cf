"""A bound on informational (1xx) answers for httpx's own transport (httpcore).

clamp's transport (clamp.oci.transport) refuses a sixth `1xx` head before the answer, as Go's
client does. httpcore, which carries requests behind a proxy and under
`CLAMP_HTTP_TRANSPORT=httpcore`, reads them in a loop until a final head arrives: a server
sending `100 Continue` forever kept clamp parsing until the attempt deadline, a minute of CPU
per attempt (session 12's finding, left on this path; session 13 closes it).

httpcore offers no hook between its h11 events, but it reads every byte through a network
backend it is given: this one wraps the real backend's streams and watches the bytes an answer
starts with. After each write (a request) it reads heads up to their blank line; a `1xx` head
other than `101` (which httpcore takes as final) is counted, the first other head ends the watch
until the next request. Only head bytes are looked at, each once (the search resumes where it
stopped), within h11's own head bound; what h11 refuses on its own is left to it.

httpcore is httpx's, not a dependency of clamp's own: the backend and its streams are written
to the interface httpcore calls (`connect_tcp`, `read`, `write`, `start_tls`, ...), and the
refusal is httpx's `RemoteProtocolError`, which httpx passes through as it is.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable
from typing import Any, Protocol

import httpx

from clamp.oci.transport import MAX_INFORMATIONAL

#: Past this many bytes without a blank line the head is h11's to refuse (its bound is 100 KiB).
MAX_WATCHED_HEAD = 128 * 1024
_END_OF_HEAD = re.compile(rb"\n\r?\n")
_INFORMATIONAL = re.compile(rb"HTTP/[0-9]\.[0-9] 1(?!01)[0-9][0-9](?:[ \r\n]|$)")


class _Stream(Protocol):
    """httpcore's AsyncNetworkStream, as httpcore calls it."""

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes: ...

    async def write(self, buffer: bytes, timeout: float | None = None) -> None: ...

    async def aclose(self) -> None: ...

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> _Stream: ...

    def get_extra_info(self, info: str) -> Any: ...


class _Backend(Protocol):
    """httpcore's AsyncNetworkBackend, as httpcore calls it."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> _Stream: ...

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> _Stream: ...

    async def sleep(self, seconds: float) -> None: ...


class _HeadWatch:
    """The heads of one answer, counted as they arrive."""

    def __init__(self) -> None:
        self._head = bytearray()
        self._searched = 0
        self._watching = False
        self._informational = 0

    def request_sent(self) -> None:
        self._head.clear()
        self._searched = 0
        self._watching = True
        self._informational = 0

    def received(self, data: bytes) -> None:
        if not self._watching:
            return
        self._head += data
        while self._watching:
            end = _END_OF_HEAD.search(self._head, max(self._searched - 2, 0))
            if end is None:
                self._searched = len(self._head)
                if self._searched > MAX_WATCHED_HEAD:
                    self._stop()
                return
            informational = _INFORMATIONAL.match(self._head) is not None
            del self._head[:end.end()]
            self._searched = 0
            if not informational:
                self._stop()
                return
            self._informational += 1
            if self._informational > MAX_INFORMATIONAL:
                self._stop()
                raise httpx.RemoteProtocolError(
                    f"more than {MAX_INFORMATIONAL} informational (1xx) responses")

    def _stop(self) -> None:
        self._watching = False
        self._head.clear()


class _WatchedStream:
    def __init__(self, inner: _Stream) -> None:
        self._inner = inner
        self._watch = _HeadWatch()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = await self._inner.read(max_bytes, timeout)
        self._watch.received(data)
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._watch.request_sent()
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> _Stream:
        # A proxy's CONNECT tunnel: the requests inside it are watched the same way.
        return _WatchedStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class InformationalBound:
    """`inner` (httpcore's own backend), with every stream it opens watched."""

    def __init__(self, inner: _Backend) -> None:
        self._inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> _Stream:
        return _WatchedStream(await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address,
            socket_options=socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> _Stream:
        return _WatchedStream(await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def bound_informational(transports: Iterable[object]) -> None:
    """Watch the streams of each httpx transport that runs on an httpcore pool (the default
    one and the proxy ones a client builds from the environment). httpx takes no network
    backend of its own, so the pool's is replaced where httpcore keeps it; a transport that
    has none (clamp's own, another kind) is left as it is."""
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and hasattr(backend, "connect_tcp") and \
                not isinstance(backend, InformationalBound):
            setattr(pool, "_network_backend", InformationalBound(backend))  # noqa: B010
