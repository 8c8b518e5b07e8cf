"""Loading a summary for inspection: a ROOT directory or a telemetry_summary.json path.

Summaries written by the original tool carry only the original keys; they are still shown (the
missing sections empty) rather than refused, since the point of inspect is to look at what the CI
produced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clamp.errors import BadInputError
from clamp.files import read_at_most
from clamp.telemetry.jsonfile import MAX_DOCUMENT, read_json
from clamp.telemetry.models import TelemetrySummary


def summary_path(target: Path) -> Path:
    """ROOT -> ROOT/build/telemetry_summary.json; a file path is returned as is."""
    if target.is_dir():
        return target / "build" / "telemetry_summary.json"
    return target


def _number(doc: dict[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = doc.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _from_original(doc: dict[str, Any]) -> TelemetrySummary:
    """A summary with only the original keys, upgraded with empty new sections."""
    source = str(doc.get("sourceDirectory") or doc.get("source_directory") or "")
    sessions = int(_number(doc, "sessionCount", "session_count") or 0)
    mean = _number(doc, "meanStability", "mean_stability")
    var = _number(doc, "variance", "stability_variance")
    p95 = _number(doc, "driftPercentile", "drift_index")
    records = int(_number(doc, "recordCount") or 0)
    empty = {"sessionCount": 0, "recordCount": 0, "meanStability": None, "variance": None,
             "driftPercentile": None}
    trust = str(doc.get("trustStatus") or "unknown")
    device = str(doc.get("deviceName") or doc.get("device_name") or "unspecified")

    def text(key: str, default: str = "unknown") -> str:
        return str(doc.get(key) or default)

    return TelemetrySummary.model_validate({
        "generatedAt": str(doc.get("generatedAt") or ""), "sourceDirectory": source,
        "source_directory": source, "backend": text("backend"), "deviceName": device,
        "device_name": device, "sessionCount": sessions, "session_count": sessions,
        "sessionFileCount": 0, "recordCount": records or sessions,
        "meanStability": mean or 0.0, "mean_stability": mean or 0.0,
        "variance": var or 0.0, "stability_variance": var or 0.0, "driftPercentile": p95 or 0.0,
        "drift_index": p95 or 0.0, "durationP95": None,
        "window": "1d", "trustStatus": trust,
        "provenanceIssuer": text("provenanceIssuer"),
        "provenanceTimestamp": text("provenanceTimestamp"),
        "digestAlgorithm": text("digestAlgorithm"),
        "policyDecision": text("policyDecision", "mode=unknown"), "provenanceDigest": None,
        "provenanceSource": None, "trusted": empty, "untrusted": empty, "unverified": empty,
        "untrustedSessions": [], "corruptFiles": {"count": 0, "files": []},
        "invalidRecords": {"count": 0, "byReason": {}, "examples": []},
        "breakdown": {"byBackend": [], "byDevice": [], "byImage": [], "byWindow": [],
                      "bySession": []},
        "changes": [], "gpuMetrics": {"snapshotCount": 0, "cards": []}})


_HEAD, _MIDDLE, _TAIL = '{"sourceDirectory":"', '","source_directory":"', '","backend":"'


def _origin_with_raw_paths(path: Path) -> Any:
    """The origin's summary whose directory it wrote unescaped, or None if `path` is not one.

    The origin's writer escaped every string but the two directory fields, so a Windows path
    (`C:\\runner\\build\\telemetry`: `\\r` a return, `\\b` a backspace, `\\_` no escape at all)
    made its summary invalid JSON, or JSON naming another directory; the origin's own reader
    (a string search) read it. Its layout is fixed: the same raw text twice, first thing, so it
    can be escaped again without guessing. Anything else stays the error it was.
    """
    try:
        text = read_at_most(path, MAX_DOCUMENT).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    middle = text.find(_MIDDLE)
    if not text.startswith(_HEAD) or middle < 0:
        return None
    raw = text[len(_HEAD):middle]
    rest = text[middle + len(_MIDDLE):]
    if not rest.startswith(raw + _TAIL) or '"' in raw or "\\" not in raw:
        return None
    quoted = json.dumps(raw)[1:-1]
    fixed = f"{_HEAD}{quoted}{_MIDDLE}{quoted}{rest[len(raw):]}"
    try:
        doc = json.loads(fixed)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and "schemaVersion" not in doc else None


def load_summary(target: Path) -> TelemetrySummary:
    """Read and validate a summary; one-line BadInputError on anything unusable."""
    path = summary_path(target)
    if not path.exists():
        hint = " (run 'clamp telemetry accumulate ROOT' first)" if target.is_dir() else ""
        raise BadInputError(f"no telemetry summary found{hint}", where=str(path))
    try:
        doc = read_json(path, "telemetry summary")
    except BadInputError as exc:
        doc = _origin_with_raw_paths(path)
        if doc is None:
            raise exc from None
    else:  # valid JSON can still have read the raw path's backslashes as escapes (`\b`, `\t`)
        if isinstance(doc, dict) and "schemaVersion" not in doc:
            doc = _origin_with_raw_paths(path) or doc
    if not isinstance(doc, dict):
        raise BadInputError("not a telemetry summary (top level is not an object)",
                            where=str(path))
    try:
        return TelemetrySummary.model_validate(doc)
    except ValidationError as exc:
        if "schemaVersion" not in doc and ("sessionCount" in doc or "session_count" in doc):
            try:
                return _from_original(doc)
            except ValidationError:
                pass
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise BadInputError(f"not a valid telemetry summary: {where}: {first['msg']}",
                            where=str(path)) from exc
