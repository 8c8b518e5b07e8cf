"""TemporalAggregator end to end on small roots: keys, statistics, trust, changes, corruption."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clamp.errors import BadInputError
from clamp.telemetry import TemporalAggregator
from clamp.telemetry.aggregator import parse_window
from clamp.telemetry.models import TelemetrySummary
from clamp.telemetry.samples import write_sample_sessions
from clamp.telemetry.schema import schema_text
from clamp.telemetry.stats import quantile_linear

from .conftest import DIGESTS, provenance_doc, record

REPO = Path(__file__).resolve().parents[2]
ORIGINAL_KEYS = ["sourceDirectory", "sessionCount", "recordCount", "meanStability", "variance",
                 "driftPercentile", "source_directory", "session_count", "mean_stability",
                 "stability_variance", "drift_index"]


def test_checked_in_schema_is_current() -> None:
    checked_in = (REPO / "schemas" / "telemetry_summary.schema.json").read_text()
    assert checked_in == schema_text(), (
        "schemas/telemetry_summary.schema.json is stale: run `python -m clamp.telemetry.schema"
        " > schemas/telemetry_summary.schema.json`")


def test_keys_aliases_and_statistics(make_root: Callable[..., Path]) -> None:
    recs_a = [record(i) for i in range(7)]
    recs_b = [record(i, stability_score=str(0.1 * i), duration_ms=str(3 * i + 1))
              for i in range(1, 6)]
    only_bad = [record(0, seed=0), record(1, stability_score=2)]
    root = make_root({"a.json": {"records": recs_a}, "b.json": {"records": recs_b},
                      "c.json": {"records": only_bad}, "d.json": "{nope"})
    summary = TemporalAggregator().accumulate(root)
    doc = json.loads((root / "build" / "telemetry_summary.json").read_text())
    for key in ORIGINAL_KEYS:
        assert key in doc
    stabilities = [float(r["stability_score"]) for r in recs_a + recs_b]
    durations = [float(r["duration_ms"]) for r in recs_a + recs_b]
    # the origin's meaning: aggregated records; the files are sessionFileCount
    assert doc["sessionCount"] == doc["session_count"] == len(stabilities)
    assert doc["sessionFileCount"] == 2  # c.json held no valid record
    assert doc["recordCount"] == 12
    assert doc["meanStability"] == pytest.approx(statistics.mean(stabilities), rel=1e-12)
    assert doc["variance"] == pytest.approx(statistics.variance(stabilities), rel=1e-9)
    # the origin's rule (computePercentile): the element at floor(0.95 (n - 1)), sorted
    assert doc["driftPercentile"] == sorted(durations)[math.floor(0.95 * (len(durations) - 1))]
    assert doc["durationP95"] == pytest.approx(quantile_linear(durations, 0.95), rel=1e-12)
    assert doc["drift_index"] == doc["driftPercentile"]
    assert doc["corruptFiles"]["count"] == 1 and doc["corruptFiles"]["files"][0]["path"] == "d.json"
    assert doc["invalidRecords"]["byReason"] == {"seed is 0": 1,
                                                 "stability_score outside [0, 1]": 1}
    assert doc["trustStatus"] == "unknown" and doc["provenanceIssuer"] == "unknown"
    assert TelemetrySummary.model_validate(doc) == summary


def test_trust_matching_own_digest_then_resolved(make_root: Callable[..., Path]) -> None:
    a, b, c = DIGESTS
    root = make_root(
        {"own.json": {"image_digest": a, "records": [record(1)]},
         "bad.json": {"image": f"ghcr.io/rocm/dev@{b}", "records": [record(2), record(3)]},
         "none.json": {"records": [record(4, acquired_at="2025-01-01T00:00:59Z")]}},
        provenance=provenance_doc({a: "valid", b: "unsigned", c: "valid"}, resolved=c))
    s = TemporalAggregator().accumulate(root)
    by_digest = {img.digest: img for img in s.breakdown.byImage}
    assert by_digest[a].evidence.trustStatus == "valid" and by_digest[a].trusted
    assert by_digest[b].evidence.trustStatus == "unsigned"
    assert by_digest[c].sessionCount == 1  # none.json fell back to the resolved digest
    assert s.untrustedSessions == ["bad.json"]
    assert (s.trusted.recordCount, s.untrusted.recordCount, s.unverified.recordCount) == (2, 2, 0)
    # The most recent session ran the resolved image: its evidence is the top level.
    assert s.trustStatus == "valid" and s.provenanceDigest == c
    assert s.provenanceIssuer == "https://issuer.example" and s.digestAlgorithm == "sha256"
    assert s.policyDecision == "pass" and s.provenanceTimestamp == "2025-01-01T00:00:00Z"


def test_bare_list_provenance_and_missing_fields(make_root: Callable[..., Path]) -> None:
    a = DIGESTS[0]
    root = make_root({"s.json": {"image_digest": a, "records": [record(1)]}},
                     provenance=[{"digest": a, "trustStatus": "valid"}])
    s = TemporalAggregator().accumulate(root)
    assert s.trustStatus == "valid" and s.provenanceIssuer == "unknown"
    assert s.digestAlgorithm == "sha256"


def test_single_record_provenance_of_the_original_verifier(
        make_root: Callable[..., Path]) -> None:
    """One image's record at the top level, snake_case fields, another verifier's word for a
    good signature: that image is the run's, so a session naming no image is matched to it."""
    a = DIGESTS[0]
    root = make_root({"s.json": {"records": [record(1)]}},
                     provenance={"image": f"ghcr.io/rocm/dev:6.4.4-ubuntu-22.04@{a}",
                                 "trust_status": "Verified", "issuer": "https://issuer.example",
                                 "digest_algorithm": "sha256", "policy_decision": "pass",
                                 "timestamp": "2025-01-01T00:00:00Z", "policyPath": "strict"})
    s = TemporalAggregator().accumulate(root)
    assert (s.trustStatus, s.provenanceDigest, s.provenanceIssuer) == (
        "valid", a, "https://issuer.example")
    assert (s.policyDecision, s.provenanceTimestamp) == ("pass", "2025-01-01T00:00:00Z")
    assert s.trusted.recordCount == 1 and s.untrustedSessions == []


def test_unrecognised_status_is_not_trusted(make_root: Callable[..., Path]) -> None:
    a = DIGESTS[0]
    root = make_root({"s.json": {"image_digest": a, "records": [record(1)]}},
                     provenance=[{"digest": a, "trustStatus": "Revoked"}])
    s = TemporalAggregator().accumulate(root)
    assert s.trustStatus == "revoked" and s.trusted.recordCount == 0
    assert s.untrusted.recordCount == 1 and s.untrustedSessions == ["s.json"]


def test_named_provenance_must_exist(make_root: Callable[..., Path], tmp_path: Path) -> None:
    root = make_root({"s.json": {"records": [record(1)]}})
    with pytest.raises(BadInputError, match="provenance file not found"):
        TemporalAggregator(provenance=tmp_path / "nope.json").accumulate(root)


def test_samples_change_attribution(tmp_path: Path) -> None:
    paths = write_sample_sessions(tmp_path, DIGESTS, seed=1)
    assert paths == sorted(paths) and len(paths) == 10
    assert write_sample_sessions(tmp_path / "again", DIGESTS, seed=1) and all(
        p.read_bytes() == (tmp_path / "again" / p.relative_to(tmp_path)).read_bytes()
        for p in paths)
    (tmp_path / "build" / "rocm_provenance.json").write_text(
        json.dumps(provenance_doc({DIGESTS[0]: "valid", DIGESTS[1]: "invalid"})))
    s = TemporalAggregator(window="1d").accumulate(tmp_path)
    assert s.corruptFiles.count == 1 and s.invalidRecords.count == 3
    assert [(c.digestBefore, c.digestAfter) for c in s.changes] == [
        (DIGESTS[0], DIGESTS[1]), (DIGESTS[1], DIGESTS[2])]
    first = s.changes[0]
    assert first.trustBefore == "valid" and first.trustAfter == "invalid"
    assert first.meanStabilityShift is not None and first.meanStabilityShift < -0.03
    ci = first.meanStabilityShiftCI
    assert ci is not None and ci[0] <= first.meanStabilityShift <= ci[1] < 0
    assert first.significant
    assert s.gpuMetrics.snapshotCount == 3 and s.gpuMetrics.cards[0].maxTemperatureEdgeC == 44.0
    assert [c.vendor for c in s.gpuMetrics.cards] == ["AMD", "NVIDIA"]
    assert len(s.breakdown.byWindow) == 9 and len(s.breakdown.bySession) == 9


def test_window_parsing() -> None:
    assert parse_window("1d")[0] == "1 day" and parse_window("2w")[0] == "14 day"
    assert parse_window("30m")[0] == "30 minute"
    assert parse_window("5200w")[1].days == 36400  # a century still works
    for bad in ("0d", "1y", "d", "-1d", "", "99999999999999d", "5300w"):
        with pytest.raises(BadInputError):
            parse_window(bad)


def test_empty_root_gives_an_empty_summary(tmp_path: Path) -> None:
    s = TemporalAggregator().accumulate(tmp_path)
    assert s.sessionCount == 0 and s.meanStability == 0.0 and s.trustStatus == "unknown"
    assert (tmp_path / "build" / "telemetry_summary.json").exists()


@pytest.mark.parametrize("trust_of", [
    lambda d: "trusted" if d != DIGESTS[1] else "untrusted",  # a trust group of two images
    lambda d: f"group-{d}",  # one image per trust group: its p95 is the image's
    lambda d: "trusted",  # one trust group: its p95 is the total's
])
def test_skipped_scans_match_full_queries(tmp_path: Path,
                                          trust_of: Callable[[str | None], str]) -> None:
    """The shortcuts in `breakdowns.grouped` give what the full per-dimension queries give."""
    from clamp.telemetry import breakdowns, queries
    from clamp.telemetry.store import TelemetryStore

    write_sample_sessions(tmp_path, DIGESTS)
    week = 7 * 86_400_000_000  # windows holding two images, so both paths run
    with TelemetryStore(tmp_path / "t.duckdb") as store:
        store.sync(sorted((tmp_path / "build" / "telemetry").glob("*.json")))
        rows = store.con.execute(
            "SELECT file_id, image_digest, backend, device FROM sessions").fetchall()
        queries.load_sessions_table(store.con, [
            (fid, d, trust_of(d), b, dev) for fid, d, b, dev in rows])
        for width in (86_400_000_000, week, 600_000_000):  # 10 min: sessions span windows
            g = breakdowns.grouped(store.con, width)
            full_window = {queries.window_start(k, width): queries.Row(*queries.clean(v))
                           for k, *v in store.con.execute(
                               _full_query("window"), [width]).fetchall()}
            full_trust = {k: queries.Row(*queries.clean(v)) for k, *v in store.con.execute(
                _full_query("trust"), [width]).fetchall()}
            assert _close(g.window, full_window)
            assert _close(g.trust, full_trust)
            full_backend = {k: queries.Row(*queries.clean(v)) for k, *v in store.con.execute(
                _full_query("backend"), [width]).fetchall()}
            full_digest = {k: queries.Row(*queries.clean(v)) for k, *v in store.con.execute(
                _full_query("digest"), [width]).fetchall()}
            assert _close(g.backend, full_backend) and _close(g.digest, full_digest)
            full_file = {k: queries.Row(*queries.clean(v)) for k, *v in store.con.execute(
                _full_query("file"), [width]).fetchall()}
            assert _close(g.file, full_file)
            spanning = store.con.execute(
                "SELECT count(*) FROM (SELECT file_id FROM records GROUP BY file_id HAVING "
                "count(DISTINCT (epoch_us(acquired_at) - $2) // $1) > 1)",
                [width, queries.ORIGIN_US]).fetchone()
            assert spanning is not None and (spanning[0] > 0) == (width == 600_000_000)


def _close(merged: dict[Any, Any], full: dict[Any, Any]) -> bool:
    """Merged statistics equal the full query's: counts and times exactly, mean and variance to
    rounding (they are merged from per-cell moments rather than computed in one pass)."""
    assert merged.keys() == full.keys()
    for key, row in merged.items():
        other = full[key]
        assert (row.n, row.sessions, row.p95, row.first, row.last) == (
            other.n, other.sessions, other.p95, other.first, other.last), key
        assert row.mean == pytest.approx(other.mean, rel=1e-12, abs=1e-15), key
        assert (row.var is None) == (other.var is None), key
        if row.var is not None:
            assert row.var == pytest.approx(other.var, rel=1e-9, abs=1e-15), key
    return True


@pytest.mark.parametrize("pretty", [False, True])
def test_record_level_backend_and_device_count_in_their_own_groups(
        make_root: Callable[..., Path], pretty: bool) -> None:
    """A record naming another backend/device than its session is grouped under its own, on the
    fast path (one-line or pretty-printed files) as in the full per-dimension query."""
    from clamp.telemetry import breakdowns, queries
    from clamp.telemetry.store import TelemetryStore

    docs = {f"s{i}.json": {"backend": "hip", "deviceName": "gfx90a", "records": [
        record(j, **({"backend": "opencl"} if j % 3 == 0 else {}),
               **({"deviceName": "gfx942"} if j % 4 == 0 else {}),
               **({"backend": "", "deviceName": ""} if j == 5 else {}))
        for j in range(1 + i, 9 + i)]} for i in range(3)}
    if pretty:
        docs = {k: json.dumps(v, indent=2) for k, v in docs.items()}
    root = make_root(docs)
    summary = TemporalAggregator().accumulate(root)
    by_backend = {g.key: g.recordCount for g in summary.breakdown.byBackend}
    by_device = {g.key: g.recordCount for g in summary.breakdown.byDevice}
    expected_backend: dict[str, int] = {}
    expected_device: dict[str, int] = {}
    for i in range(3):
        for j in range(1 + i, 9 + i):
            b = "opencl" if j % 3 == 0 and j != 5 else "hip"
            d = "gfx942" if j % 4 == 0 and j != 5 else "gfx90a"
            expected_backend[b] = expected_backend.get(b, 0) + 1
            expected_device[d] = expected_device.get(d, 0) + 1
    assert by_backend == expected_backend and by_device == expected_device
    with TelemetryStore(root / "build" / "telemetry.duckdb") as store:
        assert store.sync(sorted((root / "build" / "telemetry").glob("*.json"))).ingested == 0
        rows = store.con.execute("SELECT file_id, image_digest, backend, device FROM sessions")
        queries.load_sessions_table(store.con, [(fid, d, "unverified", b, dev)
                                                for fid, d, b, dev in rows.fetchall()])
        g = breakdowns.grouped(store.con, 86_400_000_000)
        for dimension in ("backend", "device"):
            full = {k: queries.Row(*queries.clean(v)) for k, *v in store.con.execute(
                _full_query(dimension), [86_400_000_000]).fetchall()}
            assert _close(getattr(g, dimension), full)


# The plain one-query-per-breakdown form the fast path in `breakdowns.grouped` must agree with.
_STATS = """count(*) AS n, count(DISTINCT r.file_id) AS sessions, avg(r.stability) AS mean,
    var_samp(r.stability) AS var, quantile_cont(r.duration_ms, 0.95) AS p95,
    min(r.acquired_at) AS first, max(r.acquired_at) AS last"""


def _full_query(dimension: str) -> str:
    from clamp.telemetry.queries import BACKEND, DEVICE, VALID

    keys = {"total": (), "backend": (BACKEND,), "device": (DEVICE,), "digest": ("s.digest",),
            "window": ("r.w",), "window_digest": ("r.w", "s.digest"),
            "trust": ("s.tgroup",), "file": ("r.file_id",)}[dimension]
    if not keys:
        return f"SELECT {_STATS} FROM {VALID}"
    return f"SELECT {', '.join(keys)}, {_STATS} FROM {VALID} GROUP BY ALL"
