"""A loopback HTTP server that writes exactly the bytes a test scripts: the transport attacks.

tests/support/hostile_registry.py answers with well-formed HTTP (http.server frames every reply);
this one writes whatever the script yields, so a test can send what no honest server would: a
head of megabytes, a `Content-Length` that lies, a chunked body with no end, an answer trickled a
byte at a time, a gzip bomb under any `Content-Encoding`. It records every request it read
(method, target, headers, body), so credential tests can assert on what a second, hostile host
was sent. With `tls` it speaks HTTPS; with `tunnel` it also plays a forward proxy's CONNECT
(answers 200, then speaks TLS with that context inside the tunnel and serves the requests that
come through it), so an HTTPS client behind a proxy can be tested without another host.

Bounded so that a client bug cannot hang the test run: the server listens on 127.0.0.1 only,
reads request heads up to 64 KiB, writes at most `max_write` bytes per connection, stops every
reply after `max_seconds`, and shuts itself down (closing every connection) when the `with` block
ends. A reply's pauses wait on the shutdown event, so they end the moment the test does; they pace
the server's writes and are never used to synchronise the test with the client.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

MAX_HEAD = 64 * 1024
MAX_SECONDS = 30.0
MAX_WRITE = 64 * 1024 * 1024


class Close:
    """Yielded by a reply: close the connection now (a close-delimited body, a reset)."""


class Pause:
    """Yielded by a reply: wait `seconds` before writing on (a trickling server)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


Piece = bytes | Close | Pause
Reply = Iterable[Piece]


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


Script = Callable[[Request], Reply]


@dataclass
class HostileHttp:
    host: str  # 127.0.0.1:PORT
    requests: list[Request] = field(default_factory=list)
    written: list[int] = field(default_factory=list)  # bytes written per reply, in order
    tls: bool = False

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def authorizations(self) -> list[str]:
        """Every Authorization header this server was sent."""
        return [r.headers["authorization"] for r in self.requests if "authorization" in r.headers]


# -- building replies -----------------------------------------------------------------------------
def head(status: int, headers: dict[str, str] | list[tuple[str, str]] | None = None,
         reason: str = "X") -> bytes:
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in items]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def response(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A complete answer; Content-Length added unless the headers frame the body themselves."""
    hdrs = dict(headers or {})
    if not any(k.lower() in ("content-length", "transfer-encoding") for k in hdrs):
        hdrs["Content-Length"] = str(len(body))
    return head(status, hdrs) + body


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def gzip_layers(data: bytes, layers: int) -> bytes:
    for _ in range(layers):
        data = gzip.compress(data, compresslevel=9, mtime=0)
    return data


def zeros_gzip(size: int) -> bytes:
    """`size` zero bytes, gzipped once, compressed in 1 MiB steps (no `size`-byte buffer)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [z.compress(block) for _ in range(size // len(block))]
    parts.append(z.compress(bytes(size % len(block))))
    parts.append(z.flush())
    return b"".join(parts)


# -- the server -----------------------------------------------------------------------------------
def _read_request(conn: socket.socket, pending: bytearray) -> Request | None:
    while b"\r\n\r\n" not in pending:
        if len(pending) > MAX_HEAD:
            return None
        data = conn.recv(65536)
        if not data:
            return None
        pending += data
    raw_head, _, rest = bytes(pending).partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    method, target = [*lines[0].split(" "), "", ""][:2]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = bytearray(rest)
    while len(body) < length:
        data = conn.recv(65536)
        if not data:
            return None
        body += data
    pending[:] = body[length:]
    return Request(method, target, headers, bytes(body[:length]))


@contextmanager
def hostile_http(script: Script, *, max_seconds: float = MAX_SECONDS,
                 max_write: int = MAX_WRITE, tls: ssl.SSLContext | None = None,
                 tunnel: ssl.SSLContext | None = None) -> Iterator[HostileHttp]:
    """Run the server for the `with` block; `script(request)` gives each reply's pieces."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    lock = threading.Lock()
    server = HostileHttp(f"127.0.0.1:{listener.getsockname()[1]}", tls=tls is not None)
    conns: list[socket.socket] = []

    def serve(conn: socket.socket) -> None:
        pending = bytearray()
        conn.settimeout(max_seconds)
        with contextlib.suppress(OSError), conn:
            if tls is not None:
                conn = tls.wrap_socket(conn, server_side=True)
                with lock:
                    conns.append(conn)  # the wrapper owns the socket now: shut it at the end
            while not stop.is_set():
                request = _read_request(conn, pending)
                if request is None:
                    return
                with lock:
                    server.requests.append(request)
                if request.method == "CONNECT" and tunnel is not None:
                    conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    conn = tunnel.wrap_socket(conn, server_side=True)
                    with lock:
                        conns.append(conn)
                    pending.clear()
                    continue
                written, deadline = 0, time.monotonic() + max_seconds
                closed = False
                try:
                    for piece in script(request):
                        if stop.is_set() or time.monotonic() > deadline or written > max_write:
                            closed = True
                            break
                        if isinstance(piece, Close):
                            closed = True
                            break
                        if isinstance(piece, Pause):
                            stop.wait(piece.seconds)
                            continue
                        conn.sendall(piece)
                        written += len(piece)
                finally:
                    with lock:
                        server.written.append(written)
                if closed:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with lock:
                conns.append(conn)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        stop.set()
        acceptor.join(timeout=5)
        listener.close()
        with lock:
            for conn in conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
