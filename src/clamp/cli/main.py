"""The `clamp` entry point: assembles the command groups and maps errors to exit codes.

Command modules import their heavy dependencies (httpx, sigstore, duckdb) inside the command
functions, so `clamp resolve` on a pinned matrix starts without loading the network or crypto
stacks. `run()` attaches only the command the arguments name (`new_app(command_of(argv))`);
`app`, the whole tree, is built on first use (help, completion, tests).
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from typing import Any

import typer

from clamp import __version__
from clamp.cli import commands
from clamp.exitcodes import ExitCode

#: `-h` beside `--help` on every command (click passes it down to subcommands).
HELP_OPTIONS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


def _version(value: bool) -> None:
    if value:
        print(f"clamp {__version__}")
        raise typer.Exit(0)


def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="Only warnings, errors and machine output (no progress)."),
) -> None:
    """Keep CI container images pinned, signed and accounted for."""
    from clamp.cli.output import set_quiet

    set_quiet(quiet)


def new_app(only: str | None = None) -> typer.Typer:
    """The root app with every command attached, or only the command `only`."""
    root = typer.Typer(
        name="clamp",
        help="Keep CI container images pinned, signed and accounted for.",
        no_args_is_help=True,
        # `clamp --show-completion` / `--install-completion` (bash, zsh, fish, PowerShell);
        # `_CLAMP_COMPLETE=source_bash clamp` prints the script without guessing the shell.
        add_completion=True,
        context_settings=HELP_OPTIONS,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    root.callback()(_root)
    commands.register(root, only)
    return root


#: Options of the root callback; none takes a value, so the first other word is the command.
_ROOT_OPTIONS = frozenset({"--quiet", "-q", "--version", "-h", "--help",
                           "--install-completion", "--show-completion"})


def command_of(argv: list[str]) -> str | None:
    """The command `argv` runs, when that one alone needs attaching: None for help, shell
    completion, no command, an unknown name or an unknown root option (all of which need or
    name the whole tree)."""
    if any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ):
        return None  # click's completion protocol (`_CLAMP_COMPLETE=...`)
    for word in argv:
        if word in ("-h", "--help", "--install-completion", "--show-completion"):
            return None
        if word in _ROOT_OPTIONS:
            continue
        return word if word in commands.COMMAND_MODULES else None
    return None


_full_app: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    """`app`: the whole command tree, built once when first asked for."""
    global _full_app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _full_app is None:
        _full_app = new_app()
    return _full_app


def run(argv: list[str] | None = None, *, prog_name: str = "clamp") -> int:
    """Run the CLI and return (via SystemExit) a documented exit code; never a traceback."""
    args = sys.argv[1:] if argv is None else argv
    start()
    code = invoke(new_app(command_of(args)), args, prog_name=prog_name)
    raise SystemExit(code)


def start() -> None:
    """What every console script does before it runs a command (`clamp`, `telemetry_inspect`):
    a stdout that cannot be written is exit 64, not 0, 70 or 120 (clamp.cli.streams), and
    SIGTERM unwinds as Ctrl-C does."""
    from clamp.cli import streams

    streams.guard()
    _terminate_as_interrupt()


def _terminate_as_interrupt() -> None:
    """SIGTERM (a cancelled CI job, `timeout`, `kill`) stops clamp as Ctrl-C does: the
    exception unwinds through the atomic writers, which take their temp files back, and the
    exit is 130 "interrupted" — not a death by signal that leaves `.tmp` files beside outputs."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, interrupt)


def invoke(typer_app: typer.Typer, argv: list[str] | None, *, prog_name: str) -> int:
    """Run one command and map its outcome to a documented exit code; under `--json`, an
    error before any result is also an error object on stdout (clamp.cli.json_errors)."""
    from clamp.cli import json_errors, output
    from clamp.cli.trust_flags import normalize_tlog_flag

    args = normalize_tlog_flag(sys.argv[1:] if argv is None else argv)
    output.reset_last_error()
    tracked = json_errors.start(args)
    code = int(ExitCode.INTERNAL_ERROR)
    try:
        code = _invoke(typer_app, args, prog_name=prog_name)
    finally:
        json_errors.finish(tracked, code, output.last_error())
    return code


def _invoke(typer_app: typer.Typer, args: list[str], *, prog_name: str) -> int:
    from clamp.cli.output import error
    from clamp.cli.strict_flags import refuse_repeats
    from clamp.errors import ClampError

    try:
        command = refuse_repeats(typer.main.get_command(typer_app))
        result = command.main(args=args, prog_name=prog_name, standalone_mode=False)
        # Buffered output that cannot be delivered fails here, inside the mapping, rather
        # than at interpreter exit (where Python turns any code into 120).
        sys.stdout.flush()
    except ClampError as exc:
        from clamp.cli import streams
        from clamp.exitcodes import for_error

        if streams.is_stdout_error(exc):
            streams.release()
        error(str(exc))
        return int(for_error(exc))
    except KeyboardInterrupt:
        error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except BaseException as exc:  # click exceptions and genuine bugs
        return _map_other(exc)
    return _exit_status(result) if isinstance(result, int) else 0


def _click_exceptions() -> Any:
    """click's exception module, as vendored inside typer (since 0.26, the floor in
    pyproject.toml): clamp never imports an outside `click`."""
    from typer._click import exceptions  # type: ignore[import-not-found,unused-ignore]

    return exceptions


def _exit_status(code: object) -> int:
    """A SystemExit's code as clamp's: 1 and 2 (a crash, a usage error) are never passed on,
    so no clamp outcome can be read as either."""
    from clamp.exitcodes import RESERVED

    if code is None:
        return 0
    if not isinstance(code, int):
        return int(ExitCode.INTERNAL_ERROR)
    return int(ExitCode.INTERNAL_ERROR) if code in RESERVED else code


def _map_other(exc: BaseException) -> int:
    click_exc = _click_exceptions()

    from clamp.cli.output import error

    if isinstance(exc, SystemExit):
        return _exit_status(exc.code)
    if isinstance(exc, typer.Exit):
        return _exit_status(exc.exit_code)
    if isinstance(exc, typer.Abort):
        error("aborted")
        return int(ExitCode.INTERRUPTED)
    if isinstance(exc, click_exc.NoArgsIsHelpError):
        print(exc.ctx.get_help() if exc.ctx else exc.format_message(), file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    if isinstance(exc, click_exc.UsageError):
        command = exc.ctx.command_path if exc.ctx else "clamp"
        error(f"{exc.format_message()} (see '{command} --help')")
        return int(ExitCode.BAD_INPUT)
    if isinstance(exc, click_exc.ClickException):
        error(exc.format_message())
        return int(ExitCode.BAD_INPUT)
    if isinstance(exc, BrokenPipeError):
        # Only an unguarded stream gets here (a library caller of `invoke`); the reader did
        # not get the output, which is never a pass (clamp.cli.streams).
        error("cannot write: broken pipe")
        return int(ExitCode.BAD_INPUT)
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
        # Only a name the user gave can be too long; a command that did not check its own
        # paths still reports it as bad input naming the file, not as a bug.
        error(f"{exc.filename}: file name too long" if exc.filename else "file name too long")
        return int(ExitCode.BAD_INPUT)
    from clamp.cli.extras import missing_from

    missing = missing_from(exc)
    if missing is not None:
        from clamp.exitcodes import for_error

        error(str(missing))
        return int(for_error(missing))
    if os.environ.get("CLAMP_DEBUG"):
        # The traceback is extra stderr; the exit code stays the one documented for a bug.
        traceback.print_exception(exc, file=sys.stderr)
    error(f"internal error ({type(exc).__name__}: {_one_line(exc)}); rerun with CLAMP_DEBUG=1 "
          "for details")
    return int(ExitCode.INTERNAL_ERROR)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500]
