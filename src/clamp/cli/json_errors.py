"""Under `--json`, a command that stops before printing its result prints an error object.

Why: a script reading `clamp resolve --json` (or verify, update, provenance, matrix validate,
telemetry) got an empty stdout when the run stopped early (a missing matrix, a refused flag, a
registry that could not be reached before any result existed), and `jq` then failed with a
parse error of its own that said nothing about clamp's. Now stdout holds one object,
`{"error": {"exitCode": 64, "status": "bad_input", "message": "…"}}`, and the exit code is
the same as without `--json`: the object never makes a failure look like a result (it has no
result's fields), and it is printed only when nothing else reached stdout — a command that
printed its result and then failed (an output file it could not write) keeps that one
document, so stdout is never two JSON documents. A stdout that cannot be written gets nothing.
"""

from __future__ import annotations

import json
import sys
from typing import Any


class Tracked:
    """`sys.stdout` while one command runs, noting whether anything was written to it."""

    def __init__(self, stream: Any) -> None:
        self.inner = stream
        self.wrote = False

    def write(self, text: str) -> int:
        if text:
            self.wrote = True
        return int(self.inner.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def wants_json(args: list[str]) -> bool:
    """`--json` among the options (before any `--`)."""
    options = args[:args.index("--")] if "--" in args else args
    return "--json" in options


def start(args: list[str]) -> Tracked | None:
    """Track stdout for this command when it asked for JSON."""
    if not wants_json(args):
        return None
    tracked = Tracked(sys.stdout)
    sys.stdout = tracked
    return tracked


def finish(tracked: Tracked | None, code: int, message: str | None) -> None:
    """Stop tracking; print the error object when the command failed (`code` not 0) and
    nothing reached stdout. `message` is the error line clamp printed on stderr."""
    if tracked is None:
        return
    if sys.stdout is tracked:  # a stdout that failed was replaced (streams.release)
        sys.stdout = tracked.inner
    elif not isinstance(sys.stdout, Tracked):
        return
    if code == 0 or tracked.wrote:
        return
    from clamp.errors import ClampError
    from clamp.exitcodes import MEANING, ExitCode

    try:
        status = ExitCode(code).name.lower()
        meaning = MEANING[ExitCode(code)]
    except (ValueError, KeyError):
        status, meaning = "failed", "failed"
    document = {"error": {"exitCode": code, "status": status, "message": message or meaning}}
    try:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        sys.stdout.flush()
    except ClampError:  # a guarded stdout that cannot be written: the error line said why
        from clamp.cli import streams

        streams.release()
    except (OSError, ValueError):  # an unguarded one (a library caller of `invoke`)
        pass
