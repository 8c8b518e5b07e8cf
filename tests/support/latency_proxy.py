"""A loopback HTTP/1.1 reverse proxy that adds a fixed delay to every request, and counts them.

Why: the resolve/verify benchmarks compare clients (skopeo, clamp's async httpx client) on a
network where each request costs a round trip. A registry on loopback answers in microseconds, so
the proxy waits `delay` seconds per request before forwarding, which makes request count and
concurrency, not CPU, decide the wall time, as on a real network.

Plain stdlib asyncio: keep-alive on both sides (one upstream connection per client connection),
many concurrent connections, Content-Length and chunked bodies both ways, HEAD and bodiless
statuses, `Expect: 100-continue` answered locally. The `Host` header is forwarded unchanged, so
the registry builds upload `Location` URLs that point back at the proxy; any `Location` that still
names the upstream is rewritten to the proxy as well. Request bodies are buffered (test-sized), so
a request can be replayed once if a reused upstream connection turns out to be closed.

Use it from tests or scripts as a context manager running in its own thread and event loop:

    with LatencyProxy("127.0.0.1:5000", delay=0.020) as proxy:
        run("skopeo", "inspect", "--tls-verify=false", f"docker://{proxy.host}/repo:tag")
        print(proxy.request_count)

or inside a running loop with `async with`. `python latency_proxy.py --upstream HOST:PORT` runs
it standalone. Standard library only, so benchmark scripts can import it without the test deps.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MAX_HEAD = 256 * 1024
COPY_CHUNK = 64 * 1024
BODYLESS_STATUS = frozenset({204, 304})

Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class RequestRecord:
    """One proxied request: `elapsed` runs from the end of the request head to the end of the
    response body, so it includes the added delay and the upstream's time."""

    method: str
    target: str
    status: int
    elapsed: float
    delay: float


class _Closed(Exception):
    """The peer closed the connection before a complete message head."""


def _get(headers: Headers, name: str) -> str | None:
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _tokens(headers: Headers, name: str) -> set[str]:
    out: set[str] = set()
    for key, value in headers:
        if key.lower() == name:
            out.update(t.strip().lower() for t in value.split(","))
    return out


async def _read_head(reader: asyncio.StreamReader, prefix: bytes = b"") -> tuple[str, Headers]:
    try:
        raw = prefix + await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise _Closed from exc
    lines = raw[:-4].decode("latin-1").split("\r\n")
    headers: Headers = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # obsolete folding: join to the previous header
            key, value = headers[-1]
            headers[-1] = (key, f"{value} {line.strip()}")
            continue
        key, _, value = line.partition(":")
        headers.append((key.strip(), value.strip()))
    return lines[0], headers


def _encode_head(first: str, headers: Headers) -> bytes:
    return (first + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode(
        "latin-1"
    )


Sink = Callable[[bytes], Awaitable[None]]


async def _read_chunked(reader: asyncio.StreamReader, sink: Sink) -> None:
    """Pass a chunked body through unchanged (sizes, extensions and trailers kept)."""
    while True:
        line = await reader.readuntil(b"\r\n")
        await sink(line)
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while True:  # trailers, then the empty line
                trailer = await reader.readuntil(b"\r\n")
                await sink(trailer)
                if trailer == b"\r\n":
                    return
        remaining = size + 2  # data + CRLF
        while remaining:
            part = await reader.readexactly(min(remaining, COPY_CHUNK))
            remaining -= len(part)
            await sink(part)


async def _read_length(
    reader: asyncio.StreamReader, length: int, sink: Sink
) -> None:
    while length:
        part = await reader.readexactly(min(length, COPY_CHUNK))
        length -= len(part)
        await sink(part)


class LatencyProxy:
    """The proxy. `delay` is in seconds; `upstream` is `HOST:PORT` or `http://HOST:PORT`."""

    def __init__(
        self, upstream: str, delay: float = 0.020, *, listen_host: str = "127.0.0.1", port: int = 0
    ) -> None:
        hostport = upstream.removeprefix("http://").rstrip("/")
        up_host, _, up_port = hostport.rpartition(":")
        self.upstream_host, self.upstream_port = up_host, int(up_port)
        self.delay = delay
        self._listen = (listen_host, port)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- public view -----------------------------------------------------------------------------
    @property
    def host(self) -> str:
        """`127.0.0.1:PORT` of the proxy, for image references."""
        return f"{self._listen[0]}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._records)

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def reset(self) -> None:
        with self._lock:
            self._records.clear()

    # -- lifecycle in the caller's loop ----------------------------------------------------------
    async def start_async(self) -> LatencyProxy:
        self._server = await asyncio.start_server(
            self._accept, self._listen[0], self._listen[1], limit=MAX_HEAD, backlog=1024
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        while self._tasks:  # connections accepted meanwhile join the set: loop until empty
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self._tasks.difference_update(pending)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> LatencyProxy:
        return await self.start_async()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- lifecycle in a background thread --------------------------------------------------------
    def start(self, timeout: float = 10.0) -> LatencyProxy:
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # surfaced to the starting thread below
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.aclose())
            # Handlers of connections accepted but not yet started: cancel and reap them too.
            leftover = asyncio.all_tasks(loop)
            for task in leftover:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="latency-proxy", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise RuntimeError("latency proxy did not start in time")
        if failure:
            raise failure[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._thread is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._loop = None
        self._thread = None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- proxying --------------------------------------------------------------------------------
    async def _accept(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            # A client that tries TLS first (skopeo with --tls-verify=false) must fail fast, as it
            # does against the plain-HTTP registry, so it falls back to HTTP without a timeout.
            first = await creader.readexactly(1)
            if not first.isalpha():
                cwriter.write(b"HTTP/1.0 400 Bad Request\r\nConnection: close\r\n\r\n")
                await cwriter.drain()
                return
            keep, upstream = await self._one(creader, cwriter, upstream, first)
            while keep:
                keep, upstream = await self._one(creader, cwriter, upstream)
        except (
            _Closed,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,  # malformed head or chunk size: drop the connection
        ):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            for writer in (cwriter, upstream[1] if upstream else None):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(Exception, asyncio.CancelledError):
                        await writer.wait_closed()
            self._tasks.discard(task)  # last, so `aclose` waits for the whole clean-up

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.upstream_host, self.upstream_port, limit=MAX_HEAD)

    async def _one(
        self,
        creader: asyncio.StreamReader,
        cwriter: asyncio.StreamWriter,
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None,
        prefix: bytes = b"",
    ) -> tuple[bool, tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]:
        """Proxy one request/response exchange; returns (keep the client connection, upstream)."""
        request_line, headers = await _read_head(creader, prefix)
        started = time.monotonic()
        method, target, version = [*request_line.split(" ", 2), "", ""][:3]
        if "100-continue" in _tokens(headers, "expect"):
            headers = [(k, v) for k, v in headers if k.lower() != "expect"]
            cwriter.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await cwriter.drain()
        body = bytearray()

        async def collect(part: bytes) -> None:
            body.extend(part)

        if "chunked" in _tokens(headers, "transfer-encoding"):
            await _read_chunked(creader, collect)
        elif (length := _get(headers, "content-length")) is not None:
            await _read_length(creader, int(length), collect)
        client_close = "close" in _tokens(headers, "connection") or (
            version == "HTTP/1.0" and "keep-alive" not in _tokens(headers, "connection")
        )

        await asyncio.sleep(self.delay)  # the simulated network round trip

        request = _encode_head(request_line, headers) + bytes(body)
        for attempt in (1, 2):
            reused = upstream is not None
            if upstream is None:
                upstream = await self._connect()
            ureader, uwriter = upstream
            try:
                uwriter.write(request)
                await uwriter.drain()
                status_line, rheaders = await _read_head(ureader)
                break
            except (_Closed, ConnectionError):
                uwriter.close()
                upstream = None
                if attempt == 2 or not reused:
                    raise
        while (status := int(status_line.split(" ", 2)[1])) in range(100, 200) and status != 101:
            cwriter.write(_encode_head(status_line, rheaders))
            status_line, rheaders = await _read_head(ureader)

        rheaders = [(k, self._rewrite(v) if k.lower() == "location" else v) for k, v in rheaders]
        # The last piece of the response is held back until the request is recorded, so a
        # client that has its full answer always finds the record (no race with `records()`).
        held = [_encode_head(status_line, rheaders)]

        async def forward(part: bytes) -> None:
            cwriter.write(held[0])
            held[0] = part
            await cwriter.drain()

        upstream_close = "close" in _tokens(rheaders, "connection")
        if method == "HEAD" or status in BODYLESS_STATUS:
            pass
        elif "chunked" in _tokens(rheaders, "transfer-encoding"):
            await _read_chunked(ureader, forward)
        elif (rlength := _get(rheaders, "content-length")) is not None:
            await _read_length(ureader, int(rlength), forward)
        else:  # body delimited by the upstream closing: relay until EOF, then close both
            while part := await ureader.read(COPY_CHUNK):
                await forward(part)
            upstream_close = client_close = True
        with self._lock:
            self._records.append(
                RequestRecord(method, target, status, time.monotonic() - started, self.delay)
            )
        cwriter.write(held[0])
        await cwriter.drain()
        if upstream_close:
            uwriter.close()
            upstream = None
        return not client_close, upstream

    def _rewrite(self, location: str) -> str:
        for name in (f"{self.upstream_host}:{self.upstream_port}",):
            for scheme in ("http://", "https://"):
                if location.startswith(scheme + name):
                    return self.url + location[len(scheme + name) :]
        return location


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Loopback HTTP proxy that adds a fixed delay.")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the registry")
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    async def serve() -> None:
        proxy = LatencyProxy(args.upstream, args.delay_ms / 1000, port=args.port)
        async with proxy:
            print(f"proxy {proxy.host} -> {args.upstream} (+{args.delay_ms} ms)", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
