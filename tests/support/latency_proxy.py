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
import os
import subprocess
import sys
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


class ProxyProcess:
    """The proxy in a process of its own, so its CPU does not share the measuring process's
    interpreter lock; counted and reset over its stdin/stdout (`--control`).

        with ProxyProcess("127.0.0.1:5000", delay=0.020) as proxy:
            ...; print(proxy.request_count, proxy.cpu_seconds())
    """

    def __init__(self, upstream: str, delay: float = 0.020, *, timeout: float = 10.0) -> None:
        self.upstream, self.delay, self.timeout = upstream, delay, timeout
        self._proc: subprocess.Popen[str] | None = None
        self.host = ""

    def __enter__(self) -> ProxyProcess:
        self._proc = subprocess.Popen(
            [sys.executable, __file__, "--upstream", self.upstream, "--delay-ms",
             str(self.delay * 1000), "--control"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.host = self._ask("")  # the first line names the listening address
        return self

    def _ask(self, command: str) -> str:
        assert self._proc is not None and self._proc.stdin and self._proc.stdout
        if command:
            self._proc.stdin.write(command + "\n")
            self._proc.stdin.flush()
        reply: list[str] = []
        reader = threading.Thread(target=lambda: reply.append(self._proc.stdout.readline()),  # type: ignore[union-attr]
                                  daemon=True)
        reader.start()
        reader.join(self.timeout)
        if not reply or not reply[0]:
            raise RuntimeError(f"latency proxy did not answer {command or 'start'!r} in time")
        return reply[0].strip()

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def request_count(self) -> int:
        return int(self._ask("count"))

    def reset(self) -> None:
        self._ask("reset")

    def cpu_seconds(self) -> float:
        """User + system CPU the proxy process has used so far (Linux /proc)."""
        assert self._proc is not None
        return process_cpu_seconds(self._proc.pid)

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(self.timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    pipe.close()
            self._proc = None


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid`, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Loopback HTTP proxy that adds a fixed delay.")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the registry")
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--control", action="store_true",
                        help="print HOST:PORT, then answer 'count' and 'reset' lines on stdin")
    args = parser.parse_args(argv)

    def control(proxy: LatencyProxy) -> None:
        print(proxy.host, flush=True)
        for line in sys.stdin:
            if line.strip() == "count":
                print(proxy.request_count, flush=True)
            elif line.strip() == "reset":
                proxy.reset()
                print("ok", flush=True)

    async def serve() -> None:
        proxy = LatencyProxy(args.upstream, args.delay_ms / 1000, port=args.port)
        async with proxy:
            if args.control:
                threading.Thread(target=control, args=(proxy,), daemon=True).start()
            else:
                print(f"proxy {proxy.host} -> {args.upstream} (+{args.delay_ms} ms)", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
