"""Where each command group is attached to the root app.

One line per command module, so adding a command never means editing another command's file.
Command modules stay light at import time (typer only); heavy imports live in the functions.

`register(app, only=NAME)` attaches just the module that defines the command NAME: a run of one
command (`clamp resolve --check` in CI) then neither imports the other command modules nor has
typer build their click commands. Help, completion and an unknown name need them all.
"""

from __future__ import annotations

from importlib import import_module

import typer

#: Top-level command (or group) name -> the module under clamp.cli that registers it.
COMMAND_MODULES: dict[str, str] = {
    "resolve": "resolve_cmd",
    "verify": "verify_cmd",
    "verify-blob": "verify_blob_cmd",
    "sign": "sign_cmd",
    "keygen": "keys_cmd",
    "matrix": "matrix_cmd",
    "provenance": "provenance_cmd",
    "telemetry": "telemetry",
    "demo": "demo_cmd",
    "update": "update_cmd",
}


def register(app: typer.Typer, only: str | None = None) -> None:
    """Attach every command, or only the one named `only` (which must be a key of
    COMMAND_MODULES)."""
    names = [only] if only is not None else list(COMMAND_MODULES)
    for name in names:
        import_module(f"clamp.cli.{COMMAND_MODULES[name]}").register(app)
