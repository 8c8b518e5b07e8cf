"""Run Debian's `docker-registry` (distribution 2.8) on a free loopback port, for a while.

Used by `clamp demo --registry` and by the test fixtures, which add auth blocks of their own.
Readiness is polled under a deadline (never a fixed sleep); the process is stopped on exit and
killed if it does not stop in time; REGISTRY_* variables are never inherited, because the
registry reads them as configuration overrides.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from clamp.errors import ClampError

READY_DEADLINE_S = 20.0
STOP_DEADLINE_S = 10.0


class RegistryStartError(ClampError):
    """The registry binary is missing, exited, or never became ready."""


@dataclass(frozen=True)
class LocalRegistry:
    host: str  # 127.0.0.1:PORT
    url: str
    workdir: Path
    storage: Path
    log_path: Path
    config_path: Path


def registry_binary() -> Path | None:
    configured = os.environ.get("CLAMP_REGISTRY_BIN")
    found = configured or shutil.which("docker-registry") or "/usr/bin/docker-registry"
    path = Path(found)
    return path if path.is_file() and os.access(path, os.X_OK) else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_yaml(port: int, storage: Path, auth_block: str = "", *, quiet: bool = False) -> str:
    """`quiet` turns off the access log and info lines and caches blob descriptors: for
    benchmarks, where the registry's own logging would otherwise cost more CPU than the client
    being measured."""
    # Every value is a path, a number or a fixed word, quoted: no YAML library needed.
    log = ("  level: warn\n  formatter: text\n  accesslog:\n    disabled: true\n" if quiet
           else "  level: info\n  formatter: text\n")
    cache = "  cache:\n    blobdescriptor: inmemory\n" if quiet else ""
    return f"""version: 0.1
log:
{log}storage:
{cache}  filesystem:
    rootdirectory: "{storage}"
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: "127.0.0.1:{port}"
  secret: "{secrets.token_hex(16)}"
  headers:
    X-Content-Type-Options: [nosniff]
{auth_block}"""


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}


def wait_ready(proc: subprocess.Popen[bytes], url: str, log_path: Path,
               deadline_s: float = READY_DEADLINE_S) -> None:
    """Poll GET /v2/ until it answers (200, or 401 with auth) or the deadline passes."""
    import httpx

    deadline = time.monotonic() + deadline_s
    delay = 0.02
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if proc.poll() is not None:
                raise RegistryStartError(f"docker-registry exited with {proc.returncode}: "
                                         f"{_tail(log_path)}")
            try:
                if client.get(f"{url}/v2/").status_code in (200, 401):
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() >= deadline:
                raise RegistryStartError(f"docker-registry not ready after {deadline_s:g} s: "
                                         f"{_tail(log_path)}")
            time.sleep(delay)  # polling back-off; the check above decides readiness
            delay = min(delay * 2, 0.25)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_DEADLINE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_DEADLINE_S)


@contextlib.contextmanager
def run_local_registry(workdir: Path, *, auth_block: str = "", attempts: int = 3,
                       deadline_s: float = READY_DEADLINE_S,
                       binary: Path | None = None, quiet: bool = False
                       ) -> Iterator[LocalRegistry]:
    """Run a registry with storage under `workdir` until the block ends.

    `auth_block` is the registry config's `auth:` section (htpasswd or token), if any. A port
    taken between choosing and binding is retried on another, up to `attempts` times.
    """
    binary = binary or registry_binary()
    if binary is None:
        raise RegistryStartError("docker-registry not found: apt-get install docker-registry")
    storage = workdir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    log_path, config_path = workdir / "registry.log", workdir / "config.yml"
    for attempt in range(1, attempts + 1):
        port = free_port()
        config_path.write_text(config_yaml(port, storage, auth_block, quiet=quiet))
        url = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as log:
            proc = subprocess.Popen([str(binary), "serve", str(config_path)],
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=clean_env(), cwd=workdir)
        try:
            try:
                wait_ready(proc, url, log_path, deadline_s)
            except RegistryStartError:
                stop(proc)
                in_use = "address already in use" in log_path.read_text(errors="replace")
                if attempt == attempts or not in_use:
                    raise
                continue
            yield LocalRegistry(f"127.0.0.1:{port}", url, workdir, storage, log_path,
                                config_path)
            return
        finally:
            stop(proc)


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return lines[-1][:300] if lines else "(empty log)"
