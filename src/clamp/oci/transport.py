"""An HTTP/1.1 transport for httpx built on asyncio streams and h11.

Why not httpx's default (httpcore on anyio): measured on the verify benchmark, httpcore's pool and
anyio's stream wrappers cost ~0.6 ms of CPU per request, and the pool's work grows with its size
(every request re-checks every idle connection's socket). A registry walk is hundreds of small
requests, so that overhead, not the network, set the wall time. This transport keeps httpx as the
client (redirects, headers, decoding, URL handling stay httpx's) and h11, the HTTP/1.1 state
machine httpcore itself uses, for the protocol; what is written here is only the part between
them: an idle-connection stack per origin, timeouts, and mapping failures to httpx's exceptions.
The bytes of each connection go through `_Socket`, an asyncio protocol of clamp's own, not
asyncio's StreamReader/StreamWriter: its buffer is its own to look at (an idle connection that
received anything is retired), and it costs ~10% less CPU per request than the streams did.

Why not aiohttp (measured with benchmarks/verify_images/transports.py, same run, alternating):
aiohttp alone spends ~0.6 ms of client CPU per manifest GET where httpx on this transport
spends ~0.8-0.9 ms, and as a transport under httpx it is no better than this one; adopting it
would mean replacing httpx in the whole registry client (headers, URLs, redirects, the proxy
path) and six more dependencies, for ~50 ms of CPU on a 257-request walk.

Bounds: a response head over 64 KiB is refused, and so is a sixth informational (1xx) answer
before it, as Go's client refuses it; connect, each read and each write run under the
request's httpx timeouts. A connection goes back to the stack only when both sides finished the
exchange cleanly and the server did not ask to close; an idle connection found closed, or idle
longer than `keepalive_expiry`, is dropped. A request that fails on a reused connection before any
response byte arrived is sent once more on a fresh one (idempotent methods only), because a server
may close an idle keep-alive connection at any moment.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import h11
import httpx

READ_CHUNK = 64 * 1024
MAX_HEAD_BYTES = 64 * 1024
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# Go's HTTP/1 client stops at 5 (net/http max1xxResponses): each 1xx head is bounded, but an
# endless run of them is no answer, only CPU spent until the attempt's deadline (session 12).
MAX_INFORMATIONAL = 5

Origin = tuple[str, str, int]


def default_ssl_context(*, verify: bool = True) -> ssl.SSLContext:
    """certifi's CA bundle, or the one named by SSL_CERT_FILE / SSL_CERT_DIR (the variables
    OpenSSL and httpx honour): the way to trust a private registry's CA. A bundle that cannot
    be loaded is bad input, named, not a crash at the first HTTPS connection."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if verify and (cafile or capath):
        try:
            return ssl.create_default_context(cafile=cafile or None, capath=capath or None)
        except (OSError, ssl.SSLError) as exc:
            from clamp.errors import BadInputError

            name = "SSL_CERT_FILE" if cafile else "SSL_CERT_DIR"
            reason = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
            raise BadInputError(f"cannot load the CA bundle {name} names ({reason})",
                                where=cafile or capath) from None
    return httpx.create_ssl_context(verify=verify)


class _Stale(Exception):
    """A reused connection failed before any response byte: safe to resend on a fresh one."""


class _Socket(asyncio.Protocol):
    """The byte stream of one connection, owned here rather than read through asyncio's
    StreamReader: what arrived and was not read yet is this class's own buffer, so an idle
    connection can be checked for a server's close or unasked-for bytes without reaching into
    another class's private state. Reading pauses while READ_CHUNK bytes wait unread; writing
    waits while the kernel's buffer is full (the transport's flow-control calls)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.unread = bytearray()
        self.eof = False
        self._error: Exception | None = None
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._reading_paused = False

    # -- asyncio's calls -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.unread += data
        if len(self.unread) >= READ_CHUNK and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close the connection (no half-open use)

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self._error = exc
        self._wake_reader()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def _wake_reader(self) -> None:
        if self._readable is not None and not self._readable.done():
            self._readable.set_result(None)

    # -- the connection's calls ----------------------------------------------------------------
    async def read(self, size: int) -> bytes:
        """Up to `size` bytes; b"" once the server closed and everything was read."""
        while not self.unread and not self.eof:
            self._readable = asyncio.get_running_loop().create_future()
            try:
                await self._readable
            finally:
                self._readable = None
        if not self.unread:
            if self._error is not None:
                raise self._error
            return b""
        data = bytes(self.unread[:size])
        del self.unread[:size]
        if self._reading_paused and len(self.unread) < READ_CHUNK and self.transport:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("connection closed")
        transport.write(data)
        if self._writable is not None and not self._writable.done():
            await self._writable
        if self._error is not None:
            raise self._error
        if transport.is_closing():
            raise ConnectionResetError("connection closed while sending")


class _Connection:
    """One keep-alive connection and its h11 state."""

    def __init__(self, sock: _Socket) -> None:
        self.sock = sock
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.idle_since = time.monotonic()
        self.reused = False
        self.received = 0  # bytes of the current answer read so far

    def usable(self, now: float, expiry: float) -> bool:
        """Still worth sending on: open, nothing unread (a server's close or junk shows up as
        buffered EOF/data while idle) and not idle past the expiry."""
        sock = self.sock
        return (sock.transport is not None and not sock.transport.is_closing()
                and not sock.eof and not sock.unread and now - self.idle_since < expiry)

    def close(self) -> None:
        if self.sock.transport is not None:
            self.sock.transport.close()


class H11Transport(httpx.AsyncBaseTransport):
    """The transport. `verify` is an `ssl.SSLContext`, or True for the default CA bundle."""

    def __init__(self, *, verify: ssl.SSLContext | bool = True, max_idle_per_origin: int = 64,
                 keepalive_expiry: float = 5.0) -> None:
        self._verify = verify
        self._ssl: ssl.SSLContext | None = verify if isinstance(verify, ssl.SSLContext) else None
        self._idle: dict[Origin, list[_Connection]] = {}
        self._max_idle = max_idle_per_origin
        self._expiry = keepalive_expiry
        self._closed = False

    # -- pool ----------------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:  # built on first https use: loading the CA bundle costs ~20 ms
            self._ssl = default_ssl_context(verify=bool(self._verify))
        return self._ssl

    def _take_idle(self, origin: Origin) -> _Connection | None:
        stack = self._idle.get(origin)
        now = time.monotonic()
        while stack:
            conn = stack.pop()
            if conn.usable(now, self._expiry):
                conn.reused = True
                return conn
            conn.close()
        return None

    def _put_idle(self, origin: Origin, conn: _Connection) -> None:
        stack = self._idle.setdefault(origin, [])
        if self._closed or len(stack) >= self._max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        stack.append(conn)

    async def _open(self, origin: Origin, request: httpx.Request,
                    timeout: float | None) -> _Connection:
        scheme, host, port = origin
        tls = self._ssl_context() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                _, sock = await asyncio.get_running_loop().create_connection(
                    _Socket, host, port, ssl=tls, server_hostname=host if tls else None)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out",
                                       request=request) from None
        except (OSError, UnicodeError) as exc:  # UnicodeError: a name idna cannot encode
            raise httpx.ConnectError(f"connecting to {host}:{port} failed: {exc}",
                                     request=request) from None
        return _Connection(sock)

    # -- one exchange --------------------------------------------------------------------------
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("transport is closed")
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        origin: Origin = (url.scheme, url.host, port)
        body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        for attempt in (1, 2):
            # The resend after a stale connection always goes to a fresh one: the other idle
            # connections may have been closed by the server just the same.
            conn = (self._take_idle(origin) if attempt == 1 else None) or \
                await self._open(origin, request, timeouts.get("connect"))
            try:
                status, headers, reason = await self._exchange(conn, request, body, timeouts)
            except _Stale:
                conn.close()
                continue
            except BaseException:
                conn.close()
                raise
            stream = _ResponseStream(self, origin, conn, request, timeouts.get("read"))
            return httpx.Response(status, headers=headers, stream=stream,
                                  extensions={"http_version": b"HTTP/1.1",
                                              "reason_phrase": reason})
        raise httpx.RemoteProtocolError("server closed the connection twice without answering",
                                        request=request)

    async def _exchange(self, conn: _Connection, request: httpx.Request, body: bytes,
                        timeouts: dict[str, float | None]
                        ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        resendable = conn.reused and request.method in IDEMPOTENT
        h = conn.h11
        try:
            data = h.send(h11.Request(method=request.method.encode(),
                                      target=request.url.raw_path,
                                      headers=list(request.headers.raw)))
            if body:
                data += h.send(h11.Data(data=body))
            data += h.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from None
        try:
            async with asyncio.timeout(timeouts.get("write")):
                await conn.sock.write(data)
        except TimeoutError:
            raise httpx.WriteTimeout("sending the request timed out", request=request) from None
        except OSError as exc:
            if resendable:
                raise _Stale from None
            raise httpx.WriteError(f"sending the request failed: {exc}", request=request) \
                from None
        conn.received = 0
        informational = 0
        while True:
            try:
                event = await _next_event(conn, request, timeouts.get("read"),
                                          head_limit=MAX_HEAD_BYTES)
            except (httpx.ReadError, httpx.RemoteProtocolError):
                if resendable and conn.received == 0:  # not one byte of an answer came
                    raise _Stale from None
                raise
            if isinstance(event, h11.InformationalResponse):
                informational += 1
                if informational > MAX_INFORMATIONAL:
                    raise httpx.RemoteProtocolError(
                        f"more than {MAX_INFORMATIONAL} informational (1xx) responses",
                        request=request)
                continue
            assert isinstance(event, h11.Response)
            return event.status_code, list(event.headers), event.reason

    async def aclose(self) -> None:
        self._closed = True
        for stack in self._idle.values():
            for conn in stack:
                conn.close()
        self._idle.clear()


async def _next_event(conn: _Connection, request: httpx.Request, timeout: float | None, *,
                      head_limit: int | None = None) -> Any:
    """The next h11 event, reading from the socket as needed.

    With `head_limit` (while waiting for a response head), reads are cut so that no more than
    `head_limit` bytes are ever taken before the head completes: h11's own bound only applies
    to data it has buffered before a read, so one large read could carry a longer head past it.
    """
    h = conn.h11
    while True:
        try:
            event = h.next_event()
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None
        if event is not h11.NEED_DATA:
            return event
        size = READ_CHUNK
        if head_limit is not None:
            buffered = len(h.trailing_data[0])
            if buffered >= head_limit:
                raise httpx.RemoteProtocolError(
                    f"response head exceeds {head_limit} bytes", request=request)
            size = min(size, head_limit - buffered)
        try:
            async with asyncio.timeout(timeout):
                data = await conn.sock.read(size)
        except TimeoutError:
            raise httpx.ReadTimeout("reading the response timed out", request=request) from None
        except OSError as exc:
            raise httpx.ReadError(f"reading the response failed: {exc}", request=request) \
                from None
        if not data and h.their_state is h11.SEND_RESPONSE:
            raise httpx.RemoteProtocolError("server closed the connection without answering",
                                            request=request)
        conn.received += len(data)
        h.receive_data(data)


class _ResponseStream(httpx.AsyncByteStream):
    """The response body; gives the connection back when the body was read to its end."""

    def __init__(self, transport: H11Transport, origin: Origin, conn: _Connection,
                 request: httpx.Request, timeout: float | None) -> None:
        self._transport = transport
        self._origin = origin
        self._conn: _Connection | None = conn
        self._request = request
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        while True:
            event = await _next_event(conn, self._request, self._timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._finish(conn)
                return
            elif isinstance(event, h11.ConnectionClosed):  # body delimited by close
                self._release(reuse=False)
                return

    def _finish(self, conn: _Connection) -> None:
        h = conn.h11
        # Bytes after the end of the answer (a body sent with a HEAD answer, a confused server)
        # would be read as the next request's answer: such a connection is not reused.
        extra = bool(h.trailing_data[0])
        if h.our_state is h11.DONE and h.their_state is h11.DONE and not extra:
            h.start_next_cycle()
            self._release(reuse=True)
        else:
            self._release(reuse=False)

    def _release(self, *, reuse: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if reuse:
            self._transport._put_idle(self._origin, conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        self._release(reuse=False)  # a body not read to its end: the connection is unusable
