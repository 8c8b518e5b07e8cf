"""A local stand-in for GitHub's workflow-dispatch endpoint that checks the request contract.

It answers as GitHub does: 204 with no body on success; 401 "Bad credentials" for a wrong token;
404 for an unknown repository or workflow; 422 when the body breaks the contract (missing `ref`,
non-string inputs, unknown inputs, more than 10 inputs). Every request is recorded for asserts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    url: str
    token: str
    repository: str
    workflows: set[str]
    allowed_inputs: set[str]
    requests: list[SeenRequest] = field(default_factory=list)
    force_status: int | None = None
    force_headers: dict[str, str] = field(default_factory=dict)  # sent with force_status


@contextmanager
def github_api(token: str, repository: str = "rocm/clamp-ci",
               workflows: frozenset[str] = frozenset({"update-rocm.yml"}),
               allowed_inputs: frozenset[str] = frozenset({"entries", "reasons"})
               ) -> Iterator[FakeGitHub]:
    state = FakeGitHub("", token, repository, set(workflows), set(allowed_inputs))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _reply(self, status: int, message: str | None = None,
                   headers: dict[str, str] | None = None) -> None:
            body = json.dumps({"message": message, "documentation_url": "https://docs"}).encode() \
                if message else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            if body:
                self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            with lock:
                state.requests.append(SeenRequest("POST", self.path, dict(self.headers), body))
            if state.force_status:
                self._reply(state.force_status, "Server Error", state.force_headers)
                return
            if self.headers.get("authorization") != f"Bearer {state.token}":
                self._reply(401, "Bad credentials")
                return
            prefix = f"/repos/{state.repository}/actions/workflows/"
            if not self.path.startswith(prefix) or not self.path.endswith("/dispatches"):
                self._reply(404, "Not Found")
                return
            workflow = self.path[len(prefix):-len("/dispatches")]
            if workflow not in state.workflows:
                self._reply(404, "Not Found")
                return
            if self.headers.get("accept") != "application/vnd.github+json":
                self._reply(415, "Unsupported Media Type")
                return
            problem = _contract_problem(body, state.allowed_inputs)
            if problem:
                self._reply(422, problem)
                return
            self._reply(204)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _contract_problem(body: Any, allowed: set[str]) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("ref"), str) or not body["ref"]:
        return "Invalid request. \"ref\" wasn't supplied."
    inputs = body.get("inputs", {})
    if not isinstance(inputs, dict) or len(inputs) > 10:
        return "Invalid request. inputs must be an object of at most 10 properties."
    unknown = sorted(set(inputs) - allowed)
    if unknown:
        return f"Unexpected inputs provided: {unknown}"
    if not all(isinstance(v, str) for v in inputs.values()):
        return "Invalid request. For 'properties/inputs', values must be strings."
    return None
