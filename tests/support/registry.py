"""Start Debian's `docker-registry` (distribution 2.8) for a test session, in three auth variants.

Each variant binds a free loopback port, keeps its storage (and config, log, htpasswd, cert
bundle) in one temp dir, has deletes enabled, and is ready once `GET /v2/` answers at all (200
open, 401 with auth). Readiness is polled under a deadline; the process is terminated at the end
and killed if it does not stop in time. If the port was taken between choosing and binding, the
start is retried on another port.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from clamp.demo.local_registry import RegistryStartError as LocalRegistryStartError
from clamp.demo.local_registry import run_local_registry

from .token_issuer import TokenIssuer, new_policy

REGISTRY_BIN = Path(os.environ.get("CLAMP_TEST_REGISTRY_BIN", "/usr/bin/docker-registry"))
HTPASSWD_BIN = "htpasswd"
READY_DEADLINE_S = 20.0
TEST_USER = "clamp-tester"

Variant = Literal["open", "basic", "token"]


class RegistryStartError(RuntimeError):
    """The registry did not come up; the message carries the tail of its log."""


@dataclass(frozen=True)
class RegistryHandle:
    """What a test needs to talk to a running registry."""

    variant: Variant
    host: str  # "127.0.0.1:PORT", as used in image references
    url: str  # "http://127.0.0.1:PORT"
    storage_dir: Path
    log_path: Path
    config_path: Path
    username: str | None = None
    password: str | None = None
    token_issuer: TokenIssuer | None = None

    @property
    def port(self) -> int:
        return int(self.host.rsplit(":", 1)[1])

    @property
    def credentials(self) -> tuple[str, str] | None:
        if self.username is None or self.password is None:
            return None
        return (self.username, self.password)

    def reference(self, repository: str, tag: str | None = None, digest: str | None = None) -> str:
        """`HOST/REPO[:TAG][@DIGEST]`."""
        ref = f"{self.host}/{repository}"
        if tag:
            ref += f":{tag}"
        if digest:
            ref += f"@{digest}"
        return ref

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def registry_available() -> bool:
    return REGISTRY_BIN.is_file() and os.access(REGISTRY_BIN, os.X_OK)


def make_htpasswd(path: Path, username: str, password: str) -> Path:
    """Write a bcrypt htpasswd file (distribution accepts only bcrypt) with apache2-utils."""
    exe = shutil.which(HTPASSWD_BIN)
    if exe is None:
        raise RegistryStartError("htpasswd not found: install apache2-utils")
    # -i reads the password from stdin, so it never shows in the process list.
    out = subprocess.run(
        [exe, "-B", "-i", "-n", username],
        input=password.encode("utf-8"),
        capture_output=True,
        check=True,
        timeout=30,
    )
    path.write_bytes(out.stdout.strip() + b"\n")
    path.chmod(0o600)
    return path


def _auth_block(variant: Variant, workdir: Path, issuer: TokenIssuer | None) -> str:
    if variant == "open":
        return ""
    if variant == "basic":
        return f"""auth:
  htpasswd:
    realm: clamp-test-basic
    path: "{workdir / 'htpasswd'}"
"""
    assert issuer is not None
    bundle = issuer.signing.write_bundle(workdir / "token-root.pem")
    return f"""auth:
  token:
    realm: "{issuer.realm}"
    service: "{issuer.policy.service}"
    issuer: "{issuer.policy.issuer}"
    rootcertbundle: "{bundle}"
"""


@contextlib.contextmanager
def run_registry(
    variant: Variant = "open",
    *,
    workdir: Path | None = None,
    anonymous_pull: bool = True,
    ready_deadline_s: float = READY_DEADLINE_S,
    attempts: int = 3,
    quiet: bool = False,
) -> Iterator[RegistryHandle]:
    """Run one registry for the duration of the `with` block and yield its handle.

    `workdir` (default: a fresh temp dir, removed afterwards) holds `storage/`, `config.yml`,
    `registry.log` and the auth files. `anonymous_pull` applies to the token variant only; `quiet`
    (for benchmarks) turns the registry's access log off.
    """
    if not registry_available():
        raise RegistryStartError(f"{REGISTRY_BIN} not found: install Debian's docker-registry")
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clamp-reg-")))
        workdir.mkdir(parents=True, exist_ok=True)
        username = password = None
        issuer: TokenIssuer | None = None
        if variant == "basic":
            username, password = TEST_USER, secrets.token_urlsafe(18)
            make_htpasswd(workdir / "htpasswd", username, password)
        elif variant == "token":
            policy = new_policy(users={TEST_USER: secrets.token_urlsafe(18)})
            policy.anonymous_pull = anonymous_pull
            username, password = TEST_USER, policy.users[TEST_USER]
            issuer = stack.enter_context(TokenIssuer(policy))
        auth = _auth_block(variant, workdir, issuer)
        try:
            local = stack.enter_context(run_local_registry(
                workdir, auth_block=auth, attempts=attempts, deadline_s=ready_deadline_s,
                binary=REGISTRY_BIN, quiet=quiet))
        except LocalRegistryStartError as exc:
            raise RegistryStartError(str(exc)) from None
        yield RegistryHandle(
            variant=variant,
            host=local.host,
            url=local.url,
            storage_dir=local.storage,
            log_path=local.log_path,
            config_path=local.config_path,
            username=username,
            password=password,
            token_issuer=issuer,
        )
