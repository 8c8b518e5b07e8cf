"""A bundle's transparency log entries, read and verified as sigstore-go reads them.

sigstore-go's signer writes one entry per transparency log it is configured with
(`sign.Bundle`: `for _, transparency := range opts.TransparencyLogs`, verifying with
`WithTransparencyLog(len(...))`), so a bundle may hold several — a Rekor v1 and a Rekor v2
entry, say, under a signing config that selects both. Its verifier
(`VerifyArtifactTransparencyLog`) caps them at 32, refuses two with the same log and index (a
duplicate must not count twice toward a threshold), skips an entry whose log the trusted root
does not list, and holds every other entry to everything: inclusion proof, the bundle's own
signature and key in its body, its integrated time inside the certificate's validity.

clamp does the same with two deliberate differences: an entry of a listed log whose inclusion
promise does not verify is refused (sigstore-go skips it: a listed log's key failing is no
honest bundle), and an entry of an unlisted log is skipped only when another entry verifies, so
a bundle with none keeps the error that says why (`log-id`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clamp.trust.checkpoint import verify_proof
from clamp.trust.encoding import as_dict, as_int, as_str, b64decode, opt_dict
from clamp.trust.errors import InvalidSignatureError
from clamp.trust.errors import MalformedError as M
from clamp.trust.result import TimeSource
from clamp.trust.root import TrustedRoot
from clamp.trust.tlog import LogEntry, verify_set

CHECK = "bundle"
MAX_ENTRIES = 32  # sigstore-go's maxAllowedTlogEntries


def parse_entry(obj: Any) -> tuple[LogEntry, Any]:
    """One `tlogEntries` item as (entry, its inclusionProof object or None); shape only."""
    obj = as_dict(obj, check=CHECK, what="tlog entry", error=M)
    # sigstore-go (ParseTransparencyLogEntry) refuses an entry without its kindVersion.
    kv = as_dict(obj.get("kindVersion"), check=CHECK, what="kindVersion", error=M)
    promise = obj.get("inclusionPromise")
    set_bytes = None
    if promise is not None:
        promise = as_dict(promise, check="set", what="inclusionPromise", error=M)
        set_bytes = b64decode(as_str(promise.get("signedEntryTimestamp"), check="set",
                                     what="signedEntryTimestamp", error=M), check="set", error=M)
    integrated = obj.get("integratedTime")
    log_id = opt_dict(obj.get("logId"), check=CHECK, what="logId", error=M)
    entry = LogEntry(
        body=b64decode(as_str(obj.get("canonicalizedBody"), check=CHECK,
                              what="canonicalizedBody", error=M), check=CHECK,
                       limit=2 * 1024 * 1024, error=M),
        log_index=as_int(obj.get("logIndex"), check=CHECK, what="logIndex", error=M),
        log_id=b64decode(as_str(log_id.get("keyId"), check=CHECK, what="logId.keyId", error=M),
                         check=CHECK, error=M),
        integrated_time=(as_int(integrated, check=CHECK, what="integratedTime", error=M)
                         if integrated not in (None, "0", 0) else None),
        signed_entry_timestamp=set_bytes,
        kind=str(kv.get("kind")), version=str(kv.get("version")),
    )
    proof = obj.get("inclusionProof")
    if proof is not None:
        proof = as_dict(proof, check="inclusion-proof", what="inclusionProof", error=M)
    return entry, proof


def verify_entries(raw: list[Any], version: int, root: TrustedRoot, *,
                   now: datetime | None = None
                   ) -> tuple[list[LogEntry], list[datetime], TimeSource]:
    """The entries that verified (in bundle order), the integrated times their inclusion
    promises bind, and the strongest time source among them. The caller still checks each
    verified entry's body against the bundle and its time against the certificate."""
    parsed = [parse_entry(item) for item in raw]
    if len({(entry.log_id, entry.log_index) for entry, _ in parsed}) != len(parsed):
        raise InvalidSignatureError("tlog", "duplicate transparency log entries (same log "
                                    "and index)")
    for entry, proof in parsed:
        _require_shape(entry, proof, version)
    verified: list[LogEntry] = []
    times: list[datetime] = []
    sources: set[TimeSource] = set()
    unlisted: InvalidSignatureError | None = None
    for entry, proof in parsed:
        if root.tlog(entry.log_id) is None:
            unlisted = unlisted or InvalidSignatureError(
                "log-id", f"log {entry.log_id.hex()} is not a transparency log of the "
                "trusted root")
            continue
        when, source = _verify_entry(entry, proof, root, now=now)
        if when is not None:
            times.append(when)
        sources.add(source)
        verified.append(entry)
    if unlisted is not None and not verified:
        raise unlisted
    time_source: TimeSource = ("set" if "set" in sources else
                               "inclusion_proof" if sources else "none")
    return verified, times, time_source


def _require_shape(entry: LogEntry, proof: Any, version: int) -> None:
    if entry.signed_entry_timestamp is None and proof is None:
        raise InvalidSignatureError("tlog", "entry has neither inclusion promise nor proof")
    if version == 1 and entry.signed_entry_timestamp is None:
        raise InvalidSignatureError("set", "v0.1 bundles need an inclusion promise")
    if version >= 2 and proof is None:
        raise InvalidSignatureError("inclusion-proof", "bundle v0.2+ needs an inclusion proof")


def _verify_entry(entry: LogEntry, proof: Any, root: TrustedRoot, *,
                  now: datetime | None) -> tuple[datetime | None, TimeSource]:
    source: TimeSource = "none"
    if proof is not None:
        verify_proof(entry, proof, root)
        source = "inclusion_proof"
    if entry.signed_entry_timestamp is not None:
        return verify_set(entry, root, now=now), "set"
    return None, source
