"""Where each command group is attached to the root app.

One line per command module, so adding a command never means editing another command's file.
Command modules stay light at import time (typer only); heavy imports live in the functions.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from clamp.cli import (
        demo_cmd,
        keys_cmd,
        matrix_cmd,
        provenance_cmd,
        resolve_cmd,
        sign_cmd,
        telemetry,
        update_cmd,
        verify_blob_cmd,
        verify_cmd,
    )

    resolve_cmd.register(app)
    verify_cmd.register(app)
    verify_blob_cmd.register(app)
    sign_cmd.register(app)
    keys_cmd.register(app)
    matrix_cmd.register(app)
    provenance_cmd.register(app)
    telemetry.register(app)
    demo_cmd.register(app)
    update_cmd.register(app)
    provenance_cmd.register(app)
