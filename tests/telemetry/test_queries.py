"""Statistics the summary asks the store for, against their definitions computed in Python."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clamp.telemetry import queries, store_sql
from clamp.telemetry.stats import quantile_linear

durations = st.one_of(st.none(), st.sampled_from([0.0, 1.0, 1.5, 2.0]),
                      st.floats(0, 1e6, allow_nan=False))


def _con(rows: list[tuple[float | None, int | None]]) -> Any:
    con = duckdb.connect()
    con.execute(store_sql.SCHEMA)
    if rows:
        con.execute("INSERT INTO records (file_id, idx, duration_ms, stability, reason) "
                    "SELECT 1, i, d, 0.5, r FROM (SELECT unnest($1::DOUBLE[]) AS d, "
                    "unnest($2::UTINYINT[]) AS r, generate_subscripts($1, 1) AS i)",
                    [[d for d, _ in rows], [r for _, r in rows]])
    return con


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(durations, st.sampled_from([None, None, None, 3])), max_size=300))
def test_origin_p95_is_the_origins_element(rows: list[tuple[float | None, int | None]]) -> None:
    """The origin's computePercentile: the element at floor(0.95 * (n - 1)) of the sorted
    durations of valid records (ties, missing durations and invalid records among them)."""
    values = sorted(d for d, reason in rows if d is not None and reason is None)
    expected = values[math.floor(0.95 * (len(values) - 1))] if values else None
    interpolated, origin = queries.total_p95s(_con(rows))
    assert origin == expected
    if values:
        assert interpolated == pytest.approx(quantile_linear(values, 0.95), rel=1e-12)
    else:
        assert interpolated is None


def test_origin_p95_at_sizes_where_the_index_is_close_to_an_integer() -> None:
    """0.95 * (n - 1) is an integer every 20 records: the selection must not step past it."""
    for n in (1, 2, 20, 21, 41, 101, 1001, 2001):
        rows: list[tuple[float | None, int | None]] = [(float(i), None) for i in range(n)]
        assert queries.total_p95s(_con(rows))[1] == float(math.floor(0.95 * (n - 1)))


def test_one_state_and_two_state_p95s_agree_with_duckdb() -> None:
    """Both ways `total_p95s` takes (one quantile state when an exact fraction exists, two
    when none does: n = 270 has none) give DuckDB's own `quantile_cont` bit for bit and the
    origin's element."""
    assert queries._exact_fraction(270, math.floor(0.95 * 269)) is None
    assert queries._exact_fraction(1000, math.floor(0.95 * 999)) is not None
    for n in (1, 2, 3, 7, 269, 270, 271, 1000, 4567):
        values = [((i * 7919) % 1013) / 7.0 + i * 1e-3 for i in range(n)]
        con = _con([(v, None) for v in values])
        row = con.execute("SELECT quantile_cont(duration_ms, 0.95) FROM records").fetchone()
        interpolated, origin = queries.total_p95s(con)
        assert interpolated == row[0], n
        assert origin == sorted(values)[math.floor(0.95 * (n - 1))], n
