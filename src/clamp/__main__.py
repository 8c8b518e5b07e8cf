"""`python -m clamp` runs the CLI."""

from clamp.cli.main import run

run()
