"""Telemetry: session readers, the DuckDB store, TemporalAggregator, inspect and HTML report.

Heavy imports (duckdb) happen inside the store, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clamp.telemetry.aggregator import TemporalAggregator

__all__ = ["TemporalAggregator"]


def __getattr__(name: str) -> Any:
    if name == "TemporalAggregator":
        from clamp.telemetry.aggregator import TemporalAggregator

        return TemporalAggregator
    raise AttributeError(name)
