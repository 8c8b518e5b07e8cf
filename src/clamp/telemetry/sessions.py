"""The reference reader for session files in the original telemetry format.

A session file is one JSON object: top-level `stability_score`, `backend`, `deviceName` (or
`device_name`), optional `image`/`image_digest`, and `records[]`. Producers wrote numbers as
strings often enough that every numeric field is accepted either way.

This module defines what "valid" means. The store reads well-formed files through DuckDB's
`read_json` for speed and applies the same rules in SQL (see `store_sql.py`); any file DuckDB
refuses is read here instead, so the two paths must agree (a property test checks it).

Corrupt input is data, not an exception: a file that cannot be read or parsed, or whose top level
is not an object with a `records` list, is returned with `corrupt` set; a record that breaks a
rule is kept with its `reason` and stays out of the statistics.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from clamp.files import read_at_most

#: One reason per invalid record: the first rule it breaks, in this order. (The duration reasons
#: are no longer given, a bad duration being dropped instead; their places keep the stored codes.)
REASONS = (
    "record is not an object",
    "stability_score missing or not numeric",
    "stability_score outside [0, 1]",
    "duration_ms missing or not numeric",
    "duration_ms negative",
    "seed not an integer",
    "seed is 0",
    "timestamp does not parse",
    "released_at before acquired_at",
)

#: The largest session file read. A session is one test run (~150 bytes a record, so ~450,000
#: records); parsing one costs about five times its size in memory, so without a bound a 1 GB
#: file needed ~5 GB. A larger file is counted corrupt with this reason, never read.
MAX_SESSION = 64 * 1024 * 1024

_DIGEST_RE = re.compile(r"(sha256|sha384|sha512):[0-9a-fA-F]{32,128}")


@dataclass(frozen=True)
class RecordRow:
    """One record as stored: typed values plus the reason it is invalid (None when valid)."""

    index: int
    acquired_at: datetime | None
    duration_ms: float | None
    stability: float | None
    backend: str | None
    device: str | None
    reason: str | None


@dataclass
class SessionRead:
    """Everything one session file contributes: metadata, records, or why it is corrupt."""

    path: Path
    corrupt: str | None = None
    stability_score: float | None = None
    backend: str | None = None
    device: str | None = None
    image: str | None = None
    image_digest: str | None = None
    records: list[RecordRow] = field(default_factory=list)

    @property
    def valid_records(self) -> list[RecordRow]:
        return [r for r in self.records if r.reason is None]


#: A numeric string as the origin's reader took it (`std::stod`: C whitespace, a decimal number,
#: `inf`/`infinity`/`nan`) and as Python's `float` reads it alike. Python also reads `1_000`
#: (1000; stod: 1), Unicode digits and spaces (stod: no number); stod also reads a number before
#: trailing text (`0.5abc`: 0.5) and hex (`0x1p-1`). Neither is numeric here. Written so that
#: each character has one reading (the fraction's digits only after its dot): Python's `re`
#: backtracks, and `[0-9]+\.?[0-9]*` took quadratic time on a long run of digits that fails.
_NUMERIC = re.compile(r"[ \t\n\v\f\r]*([+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
                      r"(?:[eE][+-]?[0-9]+)?|inf|infinity|nan))[ \t\n\v\f\r]*", re.IGNORECASE)


def to_float(value: Any) -> float | None:
    """A JSON number or numeric string (`_NUMERIC`) as float; None for anything else (bools
    included: nlohmann's is_number() is false for them, so the origin did not count them)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _NUMERIC.fullmatch(value)
        return float(match.group(1)) if match else None
    return None


def to_int(value: Any) -> int | None:
    """An integral JSON number or integer string; None for fractions, bools, junk."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        number = to_float(value)  # the numeric strings to_float reads, no others
        if number is None or not number.is_integer():
            return None
        text = value.strip(" \t\n\v\f\r")
        return int(text) if text.lstrip("+-").isdigit() else int(number)
    return None


def to_text(value: Any) -> str | None:
    """A label field as text: strings as-is, scalars stringified, objects dropped."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 to naive UTC; a timestamp without an offset is taken as UTC.

    Also read, as the store's fast path (DuckDB's TIMESTAMPTZ cast) reads them, so both paths
    agree: a zone name after the time ("2025-01-01 00:00:00 UTC", "... Europe/Paris", "... EST")
    and ISO 8601's end-of-day 24:00:00.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    zone: tzinfo | None = None
    head, _, name = text.rpartition(" ")
    if head and _ZONE_NAME.fullmatch(name):
        zone = _zone(name)
        if zone is None:
            return None
        text = head.rstrip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    next_day = False
    end_of_day = _END_OF_DAY.search(text)
    if end_of_day:
        text = text[:end_of_day.start(1)] + "00" + text[end_of_day.end(1):]
        next_day = True
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if zone is not None:
        if parsed.tzinfo is not None:
            return None  # an offset and a zone name: DuckDB refuses it too
        parsed = parsed.replace(tzinfo=zone)
    try:
        offset = parsed.utcoffset() if zone is None else None
        if offset is not None:
            # One addition (the day and the offset together), as DuckDB computes it: so
            # "9999-12-31T24:00+14:00", whose day alone would pass year 9999, still parses.
            return parsed.replace(tzinfo=None) + (timedelta(days=next_day) - offset)
        if next_day:
            parsed += timedelta(days=1)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # past year 9999 (or before year 1) once moved to UTC
        return None
    return parsed


_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")
# "T24:00:00" / " 24:00" with nothing past zero: the midnight that ends the day.
_END_OF_DAY = re.compile(r"[T ](24)(?::00(?::00(?:\.0+)?)?)?(?=$|[+\-])")


def _zone(name: str) -> tzinfo | None:
    """A time zone by IANA name or abbreviation in the system database; UTC/GMT always."""
    if name.upper() in ("UTC", "GMT", "Z"):
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def digest_of(image: str | None, image_digest: str | None) -> str | None:
    """The session's image digest: its own `image_digest`, else the `@sha256:…` in `image`."""
    for candidate in (image_digest, image):
        if candidate:
            match = _DIGEST_RE.search(candidate)
            if match:
                return match.group(0).lower()
    return None


def check_record(raw: Any) -> tuple[str | None, float | None, float | None,
                                     datetime | None]:
    """Apply the validity rules to one raw record: (reason, stability, duration, acquired).

    The origin's TemporalAggregator counted every record whose stability_score is a number or a
    numeric string, so only that is required; what the origin's spec calls corruption is
    invalid: a score outside [0, 1], a seed of 0, released before acquired (and, clamp's own
    rule, a seed or timestamp that is present but unreadable). A duration that is missing,
    not finite or negative leaves the record valid without a duration, as the origin left it out
    of the drift percentile.
    """
    if not isinstance(raw, dict):
        return REASONS[0], None, None, None
    stability = to_float(raw.get("stability_score"))
    duration = to_float(raw.get("duration_ms"))
    if duration is not None and not (math.isfinite(duration) and duration >= 0):
        duration = None
    acquired_raw, released_raw = raw.get("acquired_at"), raw.get("released_at")
    acquired = parse_timestamp(acquired_raw)
    released = parse_timestamp(released_raw)
    seed_raw = raw.get("seed")
    seed = to_int(seed_raw)
    reason: str | None = None
    if stability is None or math.isnan(stability):
        reason = REASONS[1]
    elif not 0.0 <= stability <= 1.0:
        reason = REASONS[2]
    elif seed_raw is not None and seed is None:
        reason = REASONS[5]
    elif seed == 0:
        reason = REASONS[6]
    elif (acquired_raw is not None and acquired is None) or \
            (released_raw is not None and released is None):
        reason = REASONS[7]
    elif acquired is not None and released is not None and released < acquired:
        reason = REASONS[8]
    return reason, stability, duration, acquired


def parse_session(document: Any, path: Path) -> SessionRead:
    """Turn a decoded JSON document into a `SessionRead` (never raises on bad content)."""
    session = SessionRead(path=path)
    if not isinstance(document, dict):
        session.corrupt = "top level is not a JSON object"
        return session
    records = document.get("records")
    if not isinstance(records, list):
        session.corrupt = "no records list"
        return session
    session.stability_score = to_float(document.get("stability_score"))
    session.backend = to_text(document.get("backend")) or None
    session.device = (to_text(document.get("deviceName"))
                      or to_text(document.get("device_name")) or None)
    session.image = to_text(document.get("image"))
    session.image_digest = digest_of(session.image, to_text(document.get("image_digest")))
    for index, raw in enumerate(records, start=1):
        reason, stability, duration, acquired = check_record(raw)
        backend = device = None
        if isinstance(raw, dict):
            backend = to_text(raw.get("backend"))
            device = to_text(raw.get("deviceName")) or to_text(raw.get("device_name"))
        session.records.append(RecordRow(
            index=index, acquired_at=acquired, duration_ms=duration, stability=stability,
            backend=backend or session.backend, device=device or session.device, reason=reason))
    return session


def read_session_file(path: Path) -> SessionRead:
    """Read and parse one session file; unreadable or malformed files come back corrupt."""
    try:
        data = read_at_most(path, MAX_SESSION)
    except OSError as exc:
        return SessionRead(path=path, corrupt=f"unreadable: {exc.strerror or exc}")
    if len(data) > MAX_SESSION:
        return SessionRead(path=path, corrupt=f"larger than {MAX_SESSION // 2**20} MiB")
    if not data.strip():
        return SessionRead(path=path, corrupt="empty file")
    try:
        document = parse_json_text(data)
    except UnicodeDecodeError:
        return SessionRead(path=path, corrupt="not UTF-8 text")
    except json.JSONDecodeError as exc:
        what = "truncated JSON" if exc.pos >= len(exc.doc.rstrip()) else "malformed JSON"
        return SessionRead(path=path, corrupt=f"{what} at line {exc.lineno} column {exc.colno}")
    except NotJson as exc:
        return SessionRead(path=path, corrupt=f"not valid JSON: {exc}")
    except RecursionError:
        return SessionRead(path=path, corrupt="JSON nested too deeply")
    except ValueError:  # a number past Python's 4300-digit integer limit
        return SessionRead(path=path, corrupt="JSON number too long")
    return parse_session(document, path)


class NotJson(ValueError):
    """What Python's json module reads but JSON (and the origin's nlohmann parser) does not."""


def _constant(name: str) -> Any:
    raise NotJson(f"{name} is not a JSON number")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_json_text(data: bytes) -> Any:
    """A session file's JSON document, read as the origin's nlohmann parser read it.

    UTF-8 only, one byte-order mark allowed (Python's `json.loads` of bytes also detects UTF-16
    and UTF-32); `NaN`, `Infinity` and lone surrogate escapes (`"\\ud800"`) refused, which Python
    accepts and nlohmann does not (a lone surrogate also cannot be stored: DuckDB takes only
    UTF-8, and the run used to crash on it); and the document ends at a NUL byte after the value,
    where nlohmann's reader stops (a zero-padded tail, as a crash can leave), so
    `{...}\\x00\\x00` counts as the origin counted it.
    """
    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        document = json.loads(text, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        if not (exc.msg == "Extra data" and text[exc.pos] == "\x00"):
            raise
        text = text[:exc.pos]
        document = json.loads(text, parse_constant=_constant)
    if _SURROGATE_ESCAPE.search(text) and _lone_surrogate(document):
        raise NotJson("a lone surrogate escape is not a character")
    return document


def _lone_surrogate(document: Any) -> bool:
    """Whether any string (key or value) holds a surrogate not paired into one character
    (Python's json pairs valid escapes, so what is left cannot be encoded)."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False
