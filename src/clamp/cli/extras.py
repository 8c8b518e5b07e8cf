"""Optional dependencies: which extra installs each, and the error when one is missing.

`pip install clamp` is enough to resolve, verify and update images; the telemetry half needs an
embedded DuckDB, installed by `pip install 'clamp[telemetry]'`. A command that needs a missing
one stops with one line naming the extra (exit 78), never an import traceback.
"""

from __future__ import annotations

import importlib.util

from clamp.errors import ClampError

#: Optional dependencies by top-level module, and the extra that installs each.
OPTIONAL_MODULES = {"duckdb": "telemetry"}


class MissingExtraError(ClampError):
    """An optional dependency the command needs is not installed."""

    kind = "missing_extra"


def _message(module: str) -> str:
    return (f"this command needs the optional dependency '{module}': "
            f"pip install 'clamp[{OPTIONAL_MODULES[module]}]'")


def require(module: str) -> None:
    """Fail before any work is done when `module` (one of OPTIONAL_MODULES) is missing."""
    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(_message(module))


def missing_from(exc: BaseException) -> MissingExtraError | None:
    """The error to report for an import of a missing optional dependency, else None."""
    if not isinstance(exc, ModuleNotFoundError) or exc.name is None:
        return None
    top = exc.name.split(".")[0]
    if top not in OPTIONAL_MODULES:
        return None
    return MissingExtraError(_message(top))
