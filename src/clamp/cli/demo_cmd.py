"""`clamp demo`: the whole main job on an embedded default, offline, in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from clamp.demo.scenario import DemoResult


def demo(
    output: Path = typer.Option(Path("demo-out"), "--output", "-o",
                                help="Folder for everything the demo writes."),
    registry: bool = typer.Option(False, "--registry", help="Push the images to a real local "
                                  "docker-registry (Debian's, on PATH) instead of an OCI layout."),
) -> int:
    """Build signed/unsigned/tampered sample images, resolve, verify (warn), write provenance."""
    import contextlib
    import shutil
    import tempfile

    from clamp.cli.aio import run as run_async
    from clamp.cli.extras import require

    require("duckdb")  # the demo ends with telemetry: refuse before building anything

    from clamp.cli.output import error, info
    from clamp.demo.local_registry import run_local_registry
    from clamp.demo.scenario import REPOSITORY, run_demo
    from clamp.errors import BadInputError
    from clamp.location import Layout, Location, Registry
    from clamp.oci.reference import Reference

    out = output.resolve()
    layout = out / "layout"
    try:
        if layout.exists() and (not (layout / REPOSITORY / "index.json").exists()
                                and any(layout.iterdir())):
            error(f"{layout} exists and is not a demo layout; choose another --output")
            return 64
    except OSError as exc:  # a name past the OS's limit, a file where a folder should be
        raise BadInputError(f"cannot use the output folder: {exc.strerror}",
                            where=str(output)) from None
    shutil.rmtree(layout, ignore_errors=True)
    with contextlib.ExitStack() as stack:
        if registry:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clamp-demo-")))
            local = stack.enter_context(run_local_registry(workdir))
            location: Location = Registry(local.host)
            info(f"started docker-registry on {local.host} (stopped when the demo ends)")
        else:
            location = Layout(str(layout))
        result = run_async(run_demo(
            out, open_store=lambda stores: stores.open(Reference(location, REPOSITORY)),
            location=location))
    return _report(result)


def _report(result: DemoResult) -> int:
    from clamp.cli.output import info, out_console
    from clamp.cli.verify_matrix_view import render_table

    render_table(result.run)
    records = {r.entry: r for r in result.run.document.records}
    console = out_console()
    console.print("\n[bold]What each verdict means[/]")
    mismatches = []
    for story in result.stories:
        record = records.get(story.entry)
        got = f"{record.trustStatus}, tag {record.tagState}" if record else "missing"
        ok = record is not None and record.trustStatus == story.status and \
            record.tagState == story.tag_state
        if not ok:
            mismatches.append(f"{story.entry}: expected {story.status}, got {got}")
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        console.print(f" {mark} {story.entry:28} {story.expect}")
    console.print(f"\n[bold]Resolved for CI:[/] {result.resolved}\n  ({result.resolved_reason})")
    console.print("\n[bold]Telemetry of the GPU test sessions, with their images' trust[/]")
    from clamp.telemetry.inspect_view import render

    render(result.summary, console)
    console.print("\n[bold]Where everything is[/]")
    for label, path in (("matrix", result.matrix), ("provenance", result.provenance),
                        ("trusted root (demo sigstore)", result.trusted_root),
                        ("mirror public key", result.public_key),
                        ("mirror private key (password clamp-demo)", result.private_key),
                        ("telemetry summary", result.telemetry_summary),
                        ("telemetry HTML report", result.telemetry_report),
                        *(("OCI layout", p) for p in [result.layout] if p)):
        console.print(f"  {label:42} {path}")
    console.print(f"\nTry: clamp verify --matrix {result.matrix}  |  clamp resolve --matrix "
                  f"{result.matrix} --json  |  telemetry_inspect {result.out}")
    if mismatches:
        from clamp.cli.output import error

        for line in mismatches:
            error(f"demo outcome differs from its story: {line}")
        from clamp.exitcodes import ExitCode

        return int(ExitCode.INTERNAL_ERROR)  # the demo's stories are clamp's own: a bug
    info(f"demo finished: main job exit code would be {int(result.run.exit_code)} "
         f"({result.run.document.status}; warn mode reports the unsigned, invalid and drifted "
         "entries without failing)")
    return 0


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
