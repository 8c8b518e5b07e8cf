"""Shared terminal output: stderr console, one-line errors, GitHub Actions helpers.

Colour only on a TTY (rich decides, and honours NO_COLOR); machine output goes to stdout
uncoloured so it can be piped.
"""

from __future__ import annotations

import os
import re
import sys
from contextlib import AbstractContextManager, nullcontext, suppress
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


#: Width of tables written to a log or pipe when COLUMNS does not say: rich's 80 columns would
#: squeeze them into truncated cells, and CI log viewers (GitHub Actions among them) wrap long
#: lines anyway.
LOG_WIDTH = 120


def _width(stream: object) -> int | None:
    """None (rich measures the terminal) on a TTY or when COLUMNS is set; LOG_WIDTH otherwise."""
    isatty = getattr(stream, "isatty", None)
    if (callable(isatty) and isatty()) or os.environ.get("COLUMNS"):
        return None
    return LOG_WIDTH


@cache
def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, width=_width(sys.stderr))


@cache
def out_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, width=_width(sys.stdout))


#: Characters a terminal or log viewer acts on rather than shows: C0 controls but tab and
#: newline (ESC starts cursor moves, colours, OSC 8 links and OSC 52 clipboard writes), DEL,
#: C1 controls, and the bidirectional overrides that reorder what is displayed.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """Untrusted text (a registry's error message, a certificate's identity) with every
    control character shown as `\\uXXXX`. Why: `error: …\\x1b[2K\\x1b[1Gverified: …` erased
    clamp's error line on a terminal and printed a forged verdict in its place."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def cell(text: str) -> str:
    """Untrusted text for a rich table cell: visible, and no rich markup (`[/]` in a registry
    message crashed the table with a MarkupError, exit 70; `[green]current[/]` forged a
    state)."""
    return _escape(visible(text))


def _line(message: str) -> str:
    """One line that the Actions runner reads as no command (clamp.cli.streams.log_safe)."""
    from clamp.cli.streams import log_safe

    return log_safe(visible(" ".join(message.split())))


#: The last error line of the running command, for `--json`'s error object.
_last_error: str | None = None


def reset_last_error() -> None:
    global _last_error
    _last_error = None


def last_error() -> str | None:
    return _last_error


def error(message: str) -> None:
    """Print a one-line error to stderr (no markup interpretation of user data)."""
    global _last_error
    one_line = _line(message)
    _last_error = one_line
    if sys.stderr.isatty():
        err_console().print(f"[bold red]error:[/] {_escape(one_line)}")
    else:
        print(f"error: {one_line}", file=sys.stderr)


def warn(message: str) -> None:
    one_line = _line(message)
    if sys.stderr.isatty():
        err_console().print(f"[yellow]warning:[/] {_escape(one_line)}")
    else:
        print(f"warning: {one_line}", file=sys.stderr)


#: Set by the root `--quiet` flag: progress and "wrote FILE" lines are dropped; warnings,
#: errors and machine output (stdout, GitHub Actions files) are never silenced.
_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def info(message: str) -> None:
    if _quiet:
        return
    from clamp.cli.streams import log_safe

    message = log_safe(visible(message))
    if sys.stderr.isatty():
        err_console().print(_escape(message))
    else:
        print(message, file=sys.stderr)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def busy(message: str) -> AbstractContextManager[object]:
    """A spinner on stderr while slow work runs, on a terminal only (never in logs or pipes)."""
    if _quiet or not sys.stderr.isatty():
        return nullcontext()
    return err_console().status(message)


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _gha_escape_data(value: str) -> str:
    from clamp.cli.streams import log_safe

    escaped = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return log_safe(visible(escaped))


def _gha_escape_prop(value: str) -> str:
    return _gha_escape_data(value).replace(":", "%3A").replace(",", "%2C")


def gha_annotation(level: str, message: str, *, file: str | None = None,
                   line: int | None = None, title: str | None = None) -> None:
    """Emit a `::error`/`::warning`/`::notice` workflow command on stderr.

    The runner reads workflow commands from both streams; stderr keeps stdout for machine
    output, so `--json` under GitHub Actions stays valid JSON."""
    props = []
    if file:
        props.append(f"file={_gha_escape_prop(file)}")
    if line:
        props.append(f"line={line}")
    if title:
        props.append(f"title={_gha_escape_prop(title)}")
    prop_text = (" " + ",".join(props)) if props else ""
    print(f"::{level}{prop_text}::{_gha_escape_data(message)}", file=sys.stderr, flush=True)


def gha_set_outputs(values: dict[str, str]) -> None:
    """Append `name=value` lines (heredoc form for multi-line values) to $GITHUB_OUTPUT, all of
    them or none (`_gha_append`)."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    lines = []
    for name, value in values.items():
        # A CR counts as a line break too (the runner splits on LF, a reader of the file on
        # Windows or in Python on CR as well): `a\rb=c` must not read as a second output.
        if "\n" in value or "\r" in value:
            marker = "CLAMP_EOF"
            while marker in value:
                marker += "_"
            lines.append(f"{name}<<{marker}\n{value}\n{marker}\n")
        else:
            lines.append(f"{name}={value}\n")
    _gha_append(path, "GITHUB_OUTPUT", "".join(lines))


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]|~"})


def md_text(value: str) -> str:
    """Untrusted text (a signer identity, an entry id) as plain text in a step summary's table
    cell: one line; HTML, Markdown, a `|` that would split the row and an @mention that would
    notify someone all shown as written, not rendered."""
    flat = " ".join(value.split())
    html_safe = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return html_safe.translate(_MARKDOWN).replace("@", "@&#8203;")


def md_code(value: str) -> str:
    """A reference or digest in a code span, which no backtick or `|` inside can break."""
    return "`" + " ".join(value.split()).replace("`", "'").replace("|", "\\|") + "`"


def gha_step_summary(markdown: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    _gha_append(path, "GITHUB_STEP_SUMMARY", markdown.rstrip("\n") + "\n")


def _gha_append(path: str, variable: str, text: str) -> None:
    """Append `text` to a file GitHub Actions named, whole or not at all; one that cannot be
    written is bad input naming the variable (a runner sets these; a wrong one is the
    workflow's mistake). Why whole: on a full disk the buffered writes of the outputs landed
    in part, a value cut short (`failed=6.4.4/ubu`) or a heredoc left open, which later steps
    with `if: always()` read; now the file is cut back to its length before the append."""
    from clamp.errors import BadInputError

    data = text.encode("utf-8", "backslashreplace")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise BadInputError(f"cannot append to {path}: {exc.strerror or exc}",
                            where=variable) from None
    try:
        start = os.fstat(fd).st_size
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        with suppress(OSError):
            os.ftruncate(fd, start)
        raise BadInputError(f"cannot append to {path}: {exc.strerror or exc}",
                            where=variable) from None
    finally:
        os.close(fd)
