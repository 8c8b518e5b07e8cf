"""`TemporalAggregator.accumulate(root)`: sessions + provenance -> telemetry_summary.json.

Layout it reads and writes (ROOT is the project/CI workspace):
  ROOT/build/telemetry/*.json        session files (original format)
  ROOT/build/telemetry/gpu/*.json    optional `rocm-smi --json` snapshots
  ROOT/build/rocm_provenance.json    trust evidence (default; `provenance=` overrides)
  ROOT/build/telemetry.duckdb        the incremental store (default; `db=` overrides)
  ROOT/build/telemetry_summary.json  the output, replaced atomically
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clamp.atomic import check_writable, write_atomic
from clamp.errors import BadInputError
from clamp.telemetry import attribution, breakdowns, queries, summary_cache
from clamp.telemetry.gpu import summarise_gpu
from clamp.telemetry.models import (
    Breakdown,
    CorruptFile,
    CorruptFiles,
    Group,
    ImageGroup,
    InvalidExample,
    InvalidRecords,
    SessionGroup,
    Stats,
    TelemetrySummary,
    TrustEvidence,
    WindowGroup,
)
from clamp.telemetry.provenance import TRUSTED, Evidence, Provenance, load_provenance
from clamp.telemetry.sessions import digest_of
from clamp.telemetry.store import IngestStats, TelemetryStore

_WINDOW = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": ("second", 1), "m": ("minute", 60), "h": ("hour", 3600), "d": ("day", 86400),
          "w": ("day", 7 * 86400)}


def parse_window(text: str) -> tuple[str, timedelta]:
    """'1d' -> ('1 day', timedelta(days=1)); units s, m, h, d, w."""
    match = _WINDOW.match(text)
    if not match or int(match.group(1)) == 0:
        raise BadInputError(f"window {text!r} is not a positive duration like 1h, 1d or 1w",
                            where="--window")
    count, unit = int(match.group(1)), match.group(2)
    name, seconds = _UNITS[unit]
    amount = count * 7 if unit == "w" else count
    if count * seconds > _MAX_WINDOW_S:
        raise BadInputError(f"window {text!r} is longer than 100 years", where="--window")
    return f"{amount} {name}", timedelta(seconds=count * seconds)


_MAX_WINDOW_S = 100 * 366 * 86400  # windows are epoch-microsecond buckets: keep them sane


def _session_files(directory: Path) -> list[str]:
    """Paths of ROOT/build/telemetry/*.json as strings (10,000 Path objects cost real time).

    The origin took files whose `std::filesystem` extension is `.json`; a name that is only
    `.json` is a dot-file without an extension there, so it is not a session file here either.
    """
    if not directory.is_dir():
        return []
    with os.scandir(directory) as entries:
        return sorted(e.path for e in entries
                      if e.name.endswith(".json") and e.name != ".json" and e.is_file())


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat() + "Z"


def _stats(row: queries.Row) -> dict[str, object]:
    return {"sessionCount": row.sessions, "recordCount": row.n, "meanStability": row.mean,
            "variance": row.var, "driftPercentile": row.p95}


@dataclass(frozen=True)
class _Read:
    """What a summary reads from the store (`TemporalAggregator._read`)."""

    meta: dict[int, tuple[str, float | None, str | None, str | None, str | None]]
    grouped: queries.Grouped
    cache: summary_cache.SummaryCache
    invalid_by_file: dict[int, int]
    by_reason: list[tuple[int, int]]
    examples: list[tuple[str, int, int]]
    corrupt: list[tuple[str, str | None]]
    labels: list[tuple[str | None, str | None]]
    sides: attribution.Sides


def _save_and_close(store: TelemetryStore, cache: summary_cache.SummaryCache) -> None:
    """Write the summary cache, then close the store (its checkpoint); the store is closed
    even when the cache cannot be written."""
    try:
        summary_cache.save(store.con, cache)
    finally:
        store.close()


def _evidence_model(ev: Evidence | None) -> TrustEvidence:
    if ev is None:
        return TrustEvidence(trustStatus="unknown")
    return TrustEvidence(
        trustStatus=ev.trust_status, provenanceIssuer=ev.issuer, provenanceIdentity=ev.identity,
        provenanceTimestamp=ev.timestamp, timestampSource=ev.timestamp_source,
        logIndex=ev.log_index, digestAlgorithm=ev.digest_algorithm,
        policyDecision=ev.policy_decision, policyMode=ev.policy_mode)


def _trust_group(ev: Evidence | None) -> str:
    if ev is None:
        return "unverified"
    return "trusted" if ev.trust_status == TRUSTED else "untrusted"


class TemporalAggregator:
    """Accumulates telemetry sessions under ROOT into a summary with trust evidence."""

    def __init__(self, *, window: str = "1d", provenance: Path | None = None,
                 db: Path | None = None) -> None:
        self.window = window
        _, self.window_delta = parse_window(window)
        self.width_us = self.window_delta // timedelta(microseconds=1)
        self.provenance_path = provenance
        self.db_path = db
        self.last_ingest: IngestStats | None = None

    def accumulate(self, root: Path | str) -> TelemetrySummary:
        """Ingest ROOT's sessions, compute the summary, write it atomically, return it.

        Every read of the store comes first (`_read`); then the store's own writes (the
        summary cache) and its close, which checkpoints, run on a second thread while this one
        builds the summary and its JSON from what was read (DuckDB releases the GIL). The
        summary is written only once the store is closed without error, as before."""
        root = Path(root)
        if not root.is_dir():
            raise BadInputError("not a directory", where=str(root))
        build = root / "build"
        telemetry_dir = build / "telemetry"
        provenance = load_provenance(self.provenance_path or build / "rocm_provenance.json",
                                     required=self.provenance_path is not None)
        files = _session_files(telemetry_dir)
        summary_path = check_writable(build / "telemetry_summary.json")  # before the store moves
        store = TelemetryStore(self.db_path or build / "telemetry.duckdb")
        try:
            self.last_ingest = store.sync(files)
            read = self._read(store, provenance)
        except BaseException:
            store.close()
            raise
        with ThreadPoolExecutor(max_workers=1) as pool:
            closed = pool.submit(_save_and_close, store, read.cache)
            try:
                summary = self._build(read, telemetry_dir, provenance)
                text = summary.to_json()
            finally:
                closed.result()  # the store's error, if any, before any summary is written
        write_atomic(summary_path, text)
        return summary

    def _read(self, store: TelemetryStore, provenance: Provenance) -> _Read:
        """Everything the summary needs from the store (no writes but its temp tables)."""
        con = store.con
        sessions = con.execute(queries.SESSIONS).fetchall()
        evidence = provenance.by_digest
        sess_rows: list[queries.SessRow] = []
        meta = {}
        for fid, path, s_stab, backend, device, image, own_digest in sessions:
            digest = digest_of(image, own_digest) or provenance.resolved_digest
            sess_rows.append((fid, digest, _trust_group(evidence.get(digest or "")), backend,
                              device))
            meta[fid] = (path, s_stab, backend, device, digest)
        queries.load_sessions_table(con, sess_rows)
        cache = summary_cache.open_cache(con, self.width_us)
        g = breakdowns.grouped(con, self.width_us, cache)
        return _Read(
            meta=meta, grouped=g, cache=cache,
            invalid_by_file=dict(con.execute(queries.INVALID_BY_FILE).fetchall()),
            by_reason=con.execute(queries.INVALID_BY_REASON).fetchall(),
            examples=con.execute(queries.INVALID_EXAMPLES).fetchall(),
            corrupt=con.execute(queries.CORRUPT).fetchall(),
            labels=con.execute(queries.FILE_LABELS).fetchall(),
            sides=attribution.sides(con, self.width_us, g, cache))

    def _build(self, read: _Read, telemetry_dir: Path,
               provenance: Provenance) -> TelemetrySummary:
        """The summary from what `_read` found (no store access: it may be closing)."""
        evidence = provenance.by_digest
        meta, g = read.meta, read.grouped
        status_of: dict[str | None, str] = {
            d: (evidence[d].trust_status if d in evidence else "unknown")
            for d in g.digest}
        invalid_by_file = read.invalid_by_file
        by_reason = {queries.reason_text(code): n for code, n in read.by_reason}
        examples = [InvalidExample(path=self._rel(p, telemetry_dir), index=i,
                                   reason=queries.reason_text(r))
                    for p, i, r in read.examples]
        corrupt = [CorruptFile(path=self._rel(p, telemetry_dir), reason=r or "unknown")
                   for p, r in read.corrupt]
        gpu, gpu_corrupt = summarise_gpu(telemetry_dir / "gpu")
        corrupt += [CorruptFile(path=self._rel(p, telemetry_dir), reason=r)
                    for p, r in gpu_corrupt]
        gpu.lostGpus = [g.model_copy(update={"path": self._rel(g.path, telemetry_dir)})
                        for g in gpu.lostGpus]

        by_session = []
        untrusted_sessions = []
        for fid, (path, s_stab, backend, device, digest) in sorted(
                meta.items(), key=lambda kv: kv[1][0]):
            row = g.file.get(fid, queries.EMPTY)
            status = status_of.get(digest) or (
                evidence[digest].trust_status if digest in evidence else "unknown")
            rel = self._rel(path, telemetry_dir)
            if status not in (TRUSTED, "unknown") and row.n:
                untrusted_sessions.append(rel)
            by_session.append(SessionGroup(
                sessionCount=row.sessions, recordCount=row.n, meanStability=row.mean,
                variance=row.var, driftPercentile=row.p95, path=rel, backend=backend,
                device=device, digest=digest,
                trustStatus=status, trusted=status == TRUSTED, sessionStability=s_stab,
                firstAcquiredAt=_iso(row.first), lastAcquiredAt=_iso(row.last),
                invalidRecordCount=invalid_by_file.get(fid, 0)))

        by_window = []
        dominant = attribution.dominant_digests(g)
        for start, row in sorted(g.window.items()):
            digests = sorted({d for (w, d) in g.window_digest if w == start},
                             key=lambda d: d or "")
            dom = dominant.get(start)
            by_window.append(WindowGroup(
                **_stats(row), start=start.isoformat() + "Z",
                end=(start + self.window_delta).isoformat() + "Z", dominantDigest=dom,
                digests=digests, trustStatus=status_of.get(dom, "unknown")))

        by_image = [ImageGroup(**_stats(row), digest=d,
                               image=evidence[d].image if d in evidence else None,
                               trusted=status_of.get(d) == TRUSTED,
                               evidence=_evidence_model(evidence.get(d or "")))
                    for d, row in sorted(g.digest.items(), key=lambda kv: kv[0] or "")]

        # Top-level evidence: the image of the most recent session, else the resolved one.
        latest = max((r for r in by_session if r.lastAcquiredAt),
                     key=lambda r: r.lastAcquiredAt or "", default=None)
        top_digest = latest.digest if latest and latest.digest else provenance.resolved_digest
        top = _evidence_model(evidence.get(top_digest or ""))
        total = g.total
        origin_p95 = g.origin_p95
        labels = read.labels
        backend = queries.origin_label([b for b, _ in labels], "unknown")
        device = queries.origin_label([d for _, d in labels], "unspecified")
        mean = 0.0 if total.mean is None else total.mean
        var = 0.0 if total.var is None else total.var
        drift = 0.0 if origin_p95 is None else origin_p95
        changes = attribution.changes(self.width_us, g, status_of, read.sides)
        return TelemetrySummary(
            generatedAt=datetime.now(UTC).replace(microsecond=0).isoformat().replace(
                "+00:00", "Z"),
            sourceDirectory=str(telemetry_dir), source_directory=str(telemetry_dir),
            backend=backend, deviceName=device, device_name=device,
            sessionCount=total.n, session_count=total.n, sessionFileCount=total.sessions,
            recordCount=total.n, meanStability=mean, mean_stability=mean,
            variance=var, stability_variance=var,
            driftPercentile=drift, drift_index=drift, durationP95=total.p95,
            window=self.window,
            trustStatus=top.trustStatus, provenanceIssuer=top.provenanceIssuer or "unknown",
            provenanceTimestamp=top.provenanceTimestamp or "unknown",
            digestAlgorithm=top.digestAlgorithm or "unknown",
            policyDecision=top.policyDecision or "mode=unknown",
            provenanceDigest=top_digest if top.trustStatus != "unknown" else None,
            provenanceSource=provenance.source,
            trusted=Stats(**_stats(g.trust.get("trusted", queries.EMPTY))),
            untrusted=Stats(**_stats(g.trust.get("untrusted", queries.EMPTY))),
            unverified=Stats(**_stats(g.trust.get("unverified", queries.EMPTY))),
            untrustedSessions=untrusted_sessions,
            corruptFiles=CorruptFiles(count=len(corrupt), files=corrupt),
            invalidRecords=InvalidRecords(count=sum(by_reason.values()),
                                          byReason=dict(sorted(by_reason.items())),
                                          examples=examples),
            breakdown=Breakdown(
                byBackend=[Group(**_stats(r), key=k)
                           for k, r in sorted(g.backend.items(), key=lambda kv: kv[0] or "")],
                byDevice=[Group(**_stats(r), key=k)
                          for k, r in sorted(g.device.items(), key=lambda kv: kv[0] or "")],
                byImage=by_image, byWindow=by_window, bySession=by_session),
            changes=changes,
            gpuMetrics=gpu)

    @staticmethod
    def _rel(path: str, base: Path) -> str:
        prefix = str(base) + os.sep
        return path[len(prefix):] if path.startswith(prefix) else path
