"""A loopback HTTP server that misbehaves on purpose, one scripted answer per request.

Used to check that the client fails closed against wrong bytes, oversized or truncated bodies,
429 storms and resets. It is a real socket server (no mocked transport), so httpx's own handling
of truncation and resets is exercised too.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    declared_length: int | None = None  # lie about Content-Length (truncation)
    reset: bool = False  # close the socket without answering


Script = Callable[[str, str], Answer]  # (method, path) -> answer
#: (method, path, request headers) -> answer, for scripts that check what the client sent.
HeaderScript = Callable[[str, str, dict[str, str]], Answer]


def denied(message: str) -> Script:
    """A registry whose API root answers, and which denies everything else with a 403 carrying
    `message` as its error text: the registry-controlled words clamp must print safely."""
    body = json.dumps({"errors": [{"code": "DENIED", "message": message}]}).encode()

    def script(method: str, path: str) -> Answer:
        if path == "/v2/":
            return Answer(200, b"{}", {"Content-Type": "application/json"})
        return Answer(403, body, {"Content-Type": "application/json"})
    return script


@dataclass
class HostileServer:
    host: str
    requests: list[tuple[str, str]]
    bodies: list[bytes] = field(default_factory=list)  # request bodies, in order


@contextmanager
def hostile_registry(script: Script | None = None, *,
                     with_headers: HeaderScript | None = None) -> Iterator[HostileServer]:
    seen: list[tuple[str, str]] = []
    bodies: list[bytes] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def handle(self) -> None:
            # A client that gives up on a request it no longer needs (the other half of a
            # parallel fetch failed) may reset the connection: that ends the exchange, it is
            # not a server error to print on the test's stderr.
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                super().handle()

        def _answer(self) -> None:
            with lock:
                seen.append((self.command, self.path))
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            with lock:
                bodies.append(body)
            if with_headers is not None:
                answer = with_headers(self.command, self.path, dict(self.headers.items()))
            else:
                assert script is not None
                answer = script(self.command, self.path)
            if answer.reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.connection.close()
                self.close_connection = True
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            declared = answer.declared_length
            self.send_header("Content-Length",
                             str(declared if declared is not None else len(answer.body)))
            if declared is not None:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            try:
                if self.command != "HEAD":
                    self.wfile.write(answer.body)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up on an oversized answer

        do_GET = do_HEAD = do_PUT = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HostileServer(f"127.0.0.1:{server.server_address[1]}", seen, bodies)
    finally:
        server.shutdown()
        server.server_close()
