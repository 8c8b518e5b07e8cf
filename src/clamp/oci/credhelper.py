"""Running a docker credential helper (`docker-credential-NAME get`), bounded.

The protocol (docker/docker-credential-helpers): the server URL on stdin, one JSON object on
stdout, `{"ServerURL": ..., "Username": ..., "Secret": ...}`; a helper with nothing stored exits
non-zero and prints `credentials not found in native keychain`. A `Username` of `<token>` means
the secret is an identity token (an OAuth2 refresh token), as docker reads it.

What a config file can make clamp run is as narrow as docker's: the program `docker-credential-`
plus a name of letters, digits, `.`, `_` and `-`, found on PATH, with the argument `get`, no
shell. It runs for at most 10 s and its answer is read up to 64 KiB; past either bound it is
killed (its whole process group). Nothing it prints is ever repeated in a message: a helper's
output is a secret.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field

from clamp.errors import BadInputError
from clamp.strictjson import loads_lenient

HELPER_PREFIX = "docker-credential-"
HELPER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
TIMEOUT_S = 10.0
MAX_OUTPUT = 64 * 1024
NOT_FOUND = "credentials not found in native keychain"
TOKEN_USERNAME = "<token>"


@dataclass(frozen=True)
class HelperAnswer:
    username: str
    secret: str = field(repr=False)


def run_helper(name: str, server: str, *, where: str, timeout: float = TIMEOUT_S
               ) -> HelperAnswer | None:
    """What helper `name` holds for `server`, or None when it holds nothing."""
    what = f"{HELPER_PREFIX}{name[:64]}"
    if not HELPER_NAME.fullmatch(name):
        raise BadInputError(f"credential helper name {name[:64]!r} is not a plain name",
                            where=where)
    exe = shutil.which(HELPER_PREFIX + name)
    if exe is None:
        raise BadInputError(f"{what} (named here) is not on PATH", where=where)
    status, out = _run_bounded([exe, "get"], server.encode(), timeout, what, where)
    text = out.decode("utf-8", "replace").strip()
    if status != 0:
        if NOT_FOUND in text.lower():
            return None
        raise BadInputError(f"{what} get failed (exit {status})", where=where)
    try:
        answer = loads_lenient(text)
    except (ValueError, RecursionError):
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("Secret"), str) or \
            not isinstance(answer.get("Username", ""), str):
        raise BadInputError(f"{what} get answered something other than its JSON",
                            where=where)
    if not answer["Secret"]:
        return None
    return HelperAnswer(answer.get("Username", ""), answer["Secret"])


def _run_bounded(argv: list[str], stdin: bytes, timeout: float, what: str,
                 where: str) -> tuple[int, bytes]:
    """Run `argv` with `stdin`; (exit status, stdout), both under the time and size bounds."""
    deadline = time.monotonic() + timeout
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise BadInputError(f"cannot run {what} ({exc.strerror or exc})", where=where) \
            from None
    try:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except OSError:
            pass  # it did not read its input; its answer says what it made of that
        out = bytearray()
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise BadInputError(f"{what} did not answer within {timeout:g} s",
                                        where=where)
                data = os.read(proc.stdout.fileno(), 65536)
                if not data:
                    break
                out += data
                if len(out) > MAX_OUTPUT:
                    raise BadInputError(f"{what} answered more than {MAX_OUTPUT} bytes",
                                        where=where)
        try:
            status = proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            raise BadInputError(f"{what} did not exit within {timeout:g} s",
                                where=where) from None
        return status, bytes(out)
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
