"""`clamp telemetry …` and the `telemetry_inspect` console script (placeholder until it lands)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Telemetry: accumulate sessions and inspect summaries.", no_args_is_help=True)


@app.command("inspect")
def inspect(root: str = typer.Argument(".", help="A ROOT directory or a telemetry_summary.json.")) -> None:
    """Show a telemetry summary (not yet available)."""
    print("telemetry inspect: not yet available")


def register(root_app: typer.Typer) -> None:
    root_app.add_typer(app, name="telemetry")


def run_inspect() -> None:
    from clamp.cli.main import invoke

    standalone = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    standalone.command()(inspect)
    raise SystemExit(invoke(standalone, None, prog_name="telemetry_inspect"))
