"""Placeholder, filled in by the Foundation work."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    del app
