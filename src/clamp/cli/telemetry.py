"""`clamp telemetry accumulate|inspect` and the `telemetry_inspect` console script.

Argument handling and output only; the work is in clamp.telemetry. Corrupt session files and
invalid records are reported (warnings, GitHub annotations) but never change the exit code:
they are data about the CI run, not a failure of the command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

app = typer.Typer(help="Telemetry: accumulate sessions and inspect summaries.",
                  no_args_is_help=True)


@app.command("accumulate")
def accumulate(
    root: Path = typer.Argument(..., help="ROOT: sessions are read from ROOT/build/telemetry/."),
    provenance: Path | None = typer.Option(
        None, "--provenance", help="rocm_provenance.json (default ROOT/build/rocm_provenance.json"
                                   "; a named file must exist)."),
    window: str = typer.Option("1d", "--window", help="Time window width: 30m, 6h, 1d, 1w."),
    db: Path | None = typer.Option(None, "--db",
                                   help="Store path (default ROOT/build/telemetry.duckdb)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary JSON on stdout."),
) -> None:
    """Ingest session files and write ROOT/build/telemetry_summary.json atomically."""
    from clamp.cli import output
    from clamp.cli.extras import require

    require("duckdb")
    from clamp.telemetry.aggregator import TemporalAggregator

    aggregator = TemporalAggregator(window=window, provenance=provenance, db=db)
    if sys.stderr.isatty() and not as_json:
        with output.err_console().status("accumulating telemetry…"):
            summary = aggregator.accumulate(root)
    else:
        summary = aggregator.accumulate(root)
    out_path = root / "build" / "telemetry_summary.json"
    if as_json:
        print(summary.to_json(), end="")
    else:
        from clamp.telemetry import numfmt

        mean = numfmt.stability(summary.mean)
        output.info(f"wrote {out_path}: {summary.sessionFileCount} sessions, "
                    f"{summary.recordCount} records, mean stability {mean}, "
                    f"trust {summary.trustStatus}")
    if summary.corruptFiles.count or summary.invalidRecords.count:
        output.warn(f"{summary.corruptFiles.count} corrupt file(s) and "
                    f"{summary.invalidRecords.count} invalid record(s) left out")
    if summary.untrustedSessions:
        output.warn(f"{len(summary.untrustedSessions)} session(s) ran images that did not "
                    "verify; reported apart from the trusted statistics")
    for gpu in summary.gpuMetrics.lostGpus[:10]:
        output.warn(f"lost GPU {gpu.gpu} in {gpu.path}: {gpu.reason}")
    if output.in_github_actions():
        _github(summary, out_path)


def _github(summary: object, out_path: Path) -> None:
    from clamp.cli import output
    from clamp.telemetry.models import TelemetrySummary

    assert isinstance(summary, TelemetrySummary)
    for f in summary.corruptFiles.files[:20]:
        output.gha_annotation("warning", f"corrupt telemetry file: {f.reason}",
                              file=f"{summary.sourceDirectory}/{f.path}")
    if summary.untrustedSessions:
        output.gha_annotation("warning", f"{len(summary.untrustedSessions)} telemetry "
                                         "session(s) ran untrusted images")
    output.gha_set_outputs({"summary": str(out_path), "trust_status": summary.trustStatus,
                            "session_count": str(summary.sessionCount),
                            "mean_stability": str(summary.meanStability)})
    from clamp.telemetry.job_summary import markdown

    output.gha_step_summary(markdown(summary))


#: Sample sessions are three a day per digest; a hundred digests is most of a year of them.
MAX_SAMPLE_DIGESTS = 100


@app.command("samples")
def samples(
    root: Path = typer.Argument(..., help="ROOT: sample sessions go to ROOT/build/telemetry/."),
    digest: list[str] = typer.Option(..., "--digest",
                                     help="An image digest (repeat, in the order they ran)."),
    seed: int = typer.Option(0, "--seed", help="Seed; the same seed writes the same files."),
) -> None:
    """Write deterministic sample sessions (for demos and trying the commands out)."""
    import re

    from clamp.cli import output
    from clamp.errors import BadInputError
    from clamp.telemetry.samples import write_sample_sessions

    if len(digest) > MAX_SAMPLE_DIGESTS:
        raise BadInputError(f"at most {MAX_SAMPLE_DIGESTS} --digest values (three sample "
                            "sessions a day each)")
    for value in digest:
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", value):
            raise BadInputError("not a sha256:<64 hex> digest", where=f"--digest {value}")
    try:
        paths = write_sample_sessions(root, digest, seed=seed)
    except OSError as exc:  # ROOT is a file, not writable, a name past the OS's limit
        raise BadInputError(f"cannot write sample sessions: {exc.strerror}",
                            where=str(exc.filename or root)) from None
    output.info(f"wrote {len(paths)} sample session files under {root / 'build' / 'telemetry'}")


@app.command("inspect")
def inspect(
    target: Path = typer.Argument(Path("."),
                                  help="A ROOT directory or a telemetry_summary.json."),
    compare: str | None = typer.Option(
        None, "--compare", help="Another ROOT or summary to show side by side; a glob "
        "('runs/*/telemetry_summary.json') compares each match against the first, as the "
        "origin's telemetry_inspect did."),
    summary_only: bool = typer.Option(False, "--summary",
                                      help="Only the summary (the origin's option)."),
    sessions_only: bool = typer.Option(False, "--sessions",
                                       help="Only the per-session breakdown (the origin's "
                                       "option)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output on stdout."),
    html: Path | None = typer.Option(None, "--html",
                                     help="Also write a self-contained HTML report here."),
) -> None:
    """Show a telemetry summary: trust per image, stability over time, corrupt inputs."""
    from clamp.atomic import write_atomic
    from clamp.cli import output
    from clamp.telemetry import inspect_compare, inspect_view
    from clamp.telemetry.summary_io import load_summary, summary_path

    summary = load_summary(target)
    matches = _compare_paths(compare) if compare is not None else []
    if html is not None:
        from clamp.telemetry.html_report import render_html

        write_atomic(html, render_html(summary))
        if not as_json:
            output.info(f"wrote {html}")
    if len(matches) > 1:
        named = [(str(p), load_summary(p)) for p in matches]
        if as_json:
            print(json.dumps({"baseline": named[0][0],
                              "entries": inspect_compare.multi_compare_rows(named)}, indent=2))
        else:
            inspect_compare.render_multi_compare(named, output.out_console())
        return
    other = load_summary(matches[0]) if matches else None
    if as_json:
        if other is None:
            print(summary.to_json(), end="")
        else:
            print(json.dumps({"a": str(summary_path(target)), "b": str(summary_path(matches[0])),
                              "rows": inspect_compare.compare_rows(summary, other)},
                             indent=2))
        return
    console = output.out_console()
    if other is not None:
        inspect_compare.render_compare(summary, other, (str(target), str(matches[0])), console)
    elif sessions_only and not summary_only:
        console.print(inspect_view.sessions_table(summary))
    elif summary_only and not sessions_only:
        console.print(inspect_view.headline(summary))
    else:
        inspect_view.render(summary, console)
        if sessions_only:
            console.print(inspect_view.sessions_table(summary))


def _compare_paths(pattern: str) -> list[Path]:
    """--compare's argument: a path, or a glob over several summaries (sorted)."""
    import glob

    from clamp.errors import BadInputError

    if not any(char in pattern for char in "*?["):
        return [Path(pattern)]
    found = sorted(Path(p) for p in glob.glob(pattern, recursive=True))[:1000]
    if not found:
        raise BadInputError(f"no files matched pattern {pattern!r}", where="--compare")
    return found


def register(root_app: typer.Typer) -> None:
    root_app.add_typer(app, name="telemetry")


def run_inspect() -> None:
    """Entry point of the `telemetry_inspect` console script (same as `clamp telemetry inspect`)."""
    from clamp import __version__
    from clamp.cli.main import HELP_OPTIONS, invoke, start

    start()
    if sys.argv[1:2] == ["--version"]:
        from clamp.cli.streams import print_line

        raise SystemExit(print_line(f"telemetry_inspect (clamp {__version__})"))
    standalone = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                             rich_markup_mode=None, context_settings=HELP_OPTIONS)
    standalone.command()(inspect)
    raise SystemExit(invoke(standalone, None, prog_name="telemetry_inspect"))
