"""Standard output that cannot be written is bad input (exit 64), never a pass or a "bug";
standard error that cannot be written changes no exit code.

Why: `clamp resolve` prints the image CI runs and `--json` prints what a script parses. When
stdout is closed (`>&-`), full (`>/dev/full`) or a pipe whose reader left (`| head -1`), the
reader did not get the answer. Unguarded, Python drops prints to a closed stdout and exits 0,
click turns EPIPE into exit 1 (clamp's crash code, mapped to 70 with no message), a write to a
full disk is an "internal error", and a failed flush at interpreter exit turns any code into
120. Here every write and flush of stdout that fails raises BadInputError naming standard
output, so the command stops with one line and exit 64 (docs: README "Exit codes"), and
`release` points the descriptor at /dev/null so the interpreter's last flush cannot fail again.
A stderr that cannot be written only loses its messages (`BestEffortStderr`): the exit code is
the one the outcome has, never the crash code 1.

Under GitHub Actions both guards also break the runner's legacy workflow-command prefix `##[`,
which the runner reads anywhere in a line (`... ##[set-output name=status]verified`,
`##[stop-commands]x`), not only at its start as `::` (`log_safe`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from clamp.errors import BadInputError
from clamp.exitcodes import ExitCode

WHERE = "standard output"

#: actions/runner's legacy command prefix (ActionCommand.TryParse looks for it anywhere in a
#: line); a zero-width space after `##` keeps the text readable and no longer a command.
LEGACY_COMMAND = "##["
BROKEN_COMMAND = "##\u200b["


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def log_safe(text: str) -> str:
    """`text` with every `##[` broken, under GitHub Actions (elsewhere no runner reads it, and
    stdout stays byte-exact). Why: a registry's error message, a tag or a signer identity in a
    log line could otherwise set a step output (`##[set-output name=status]verified`), mask
    a word or stop the runner reading clamp's own `::error` annotations."""
    if LEGACY_COMMAND not in text or not in_github_actions():
        return text
    return text.replace(LEGACY_COMMAND, BROKEN_COMMAND)


class _CommandBreaker:
    """`log_safe` across writes: `##` ending one write and `[` starting the next is one
    command to the runner, which reads lines, not writes."""

    def __init__(self) -> None:
        self._tail = ""

    def __call__(self, text: str) -> str:
        tail, self._tail = self._tail, (self._tail + text)[-2:]
        if not in_github_actions():
            return text
        return log_safe(tail + text)[len(tail):]


class GuardedStdout:
    """A stand-in for `sys.stdout` that reports a failed write as BadInputError; everything
    else (isatty, encoding, fileno...) is the real stream's, so rich and print see no change."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._safe = _CommandBreaker()

    def write(self, text: str) -> int:
        if self._stream is None:
            raise BadInputError("cannot write: it is closed", where=WHERE)
        with _as_bad_input():
            self._stream.write(self._safe(text))
        return len(text)

    def flush(self) -> None:
        if self._stream is None:
            return
        with _as_bad_input():
            self._stream.flush()

    def isatty(self) -> bool:
        return bool(self._stream is not None and self._stream.isatty())

    def __getattr__(self, name: str) -> Any:
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


@contextlib.contextmanager
def _as_bad_input() -> Iterator[None]:
    """A failed write or flush of stdout as BadInputError naming standard output."""
    try:
        yield
    except OSError as exc:
        raise BadInputError(f"cannot write: {exc.strerror or exc}", where=WHERE) from None
    except ValueError as exc:  # "I/O operation on closed file"
        raise BadInputError(f"cannot write: {exc}", where=WHERE) from None


class BestEffortStderr:
    """A stand-in for `sys.stderr` that drops what it cannot write. Why: with stderr closed
    (`2>&-`) or full, the first warning raised, the error line about it raised again, and the
    process died with exit 1, the crash code clamp never uses; an undeliverable message must
    not change the exit code, which is then the only channel left."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._safe = _CommandBreaker()

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self._stream.write(self._safe(text))
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self._stream.flush()

    def isatty(self) -> bool:
        try:
            return bool(self._stream.isatty())
        except (OSError, ValueError, AttributeError):
            return False

    def __getattr__(self, name: str) -> Any:
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


def guard() -> None:
    """Put the guards in front of the process's stdout and stderr (a closed one is None in
    Python)."""
    if not isinstance(sys.stdout, GuardedStdout):
        sys.stdout = GuardedStdout(sys.stdout)
    if not isinstance(sys.stderr, BestEffortStderr):
        sys.stderr = BestEffortStderr(sys.stderr)


def release() -> None:
    """After stdout failed: drop what is still buffered and point fd 1 at /dev/null, so the
    interpreter's flush at exit neither fails (exit 120) nor prints a traceback."""
    stream = sys.stdout
    real = stream._stream if isinstance(stream, GuardedStdout) else stream
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, real.fileno())
        os.close(devnull)
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives to exit


def print_line(text: str, *, label: str = "error",
               failed: int = ExitCode.BAD_INPUT) -> int:
    """Print one line outside a command (a console script's own `--version`, the origin
    shim's chosen image): 0, or `failed` (64; the shim: the origin's 1) with one `label:` line
    on stderr when stdout cannot take it."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BadInputError as exc:
        release()
        print(f"{label}: {exc}", file=sys.stderr)
        return int(failed)
    return 0


def is_stdout_error(exc: BaseException) -> bool:
    return isinstance(exc, BadInputError) and exc.where == WHERE
