"""Bounded, strict decoders for everything a signature carries: base64, PEM, JSON.

Every input here may be hostile (it came from a registry or a user's file), so each decoder caps
the size first and raises `TrustError` naming the check, never a bare `ValueError`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import rfc8785

from clamp.strictjson import MAX_DEPTH, StrictJSONError, case_fold, loads_strict
from clamp.strictjson import fold_key as fold_key  # re-exported: the trust room's spelling
from clamp.trust.errors import InvalidSignatureError, TrustError

MAX_SIGNATURE_B64 = 16 * 1024  # an RSA-8192 signature is 1 KiB; leave generous room
MAX_PEM = 64 * 1024  # a certificate chain of a handful of certs
MAX_JSON = 8 * 1024 * 1024  # payloads, bundles, trust roots
MAX_JSON_DEPTH = MAX_DEPTH


def b64decode(text: str | bytes, *, check: str, limit: int = MAX_JSON,
              urlsafe: bool = False, error: type[TrustError] = InvalidSignatureError) -> bytes:
    """Strict base64 (standard alphabet, padding required, no junk); raise naming `check`."""
    if not isinstance(text, str | bytes):
        raise error(check, "not base64 (not a string)")
    if isinstance(text, str):
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError as exc:
            raise error(check, "not base64 (non-ASCII characters)") from exc
    else:
        raw = text
    if len(raw) > limit:
        raise error(check, f"base64 data too large ({len(raw)} > {limit} bytes)")
    # Go's base64 decoder (and so protojson, cosign, Rekor) skips CR and LF anywhere.
    raw = raw.replace(b"\r", b"").replace(b"\n", b"")
    if urlsafe:
        raw = raw.replace(b"-", b"+").replace(b"_", b"/")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise error(check, "not valid base64") from exc


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def loads_json(data: bytes | str, *, check: str, limit: int = MAX_JSON,
               error: type[TrustError] = InvalidSignatureError) -> Any:
    """Parse JSON the way no Go reader can read differently: the one reader for every signed
    payload, in-toto statement, DSSE envelope, sigstore bundle, Rekor body and trusted root.

    `clamp.strictjson` does the reading (shared with the manifest reader): two keys of one object
    that Go's encoding/json (case-insensitive, last match wins) or protojson (JSON or proto
    name) could take for the same field are refused at every nesting level, as are exact
    duplicates, NaN and Infinity, non-UTF-8 bytes and a byte-order mark; size and nesting are
    capped first. Raises `error` naming `check`.
    """
    try:
        return loads_strict(data, limit=limit, max_depth=MAX_JSON_DEPTH)
    except StrictJSONError as exc:
        raise error(check, str(exc)) from exc


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes of `value`: the form Rekor signs its SETs over."""
    return bytes(rfc8785.dumps(value))


def go_get(obj: Any, key: str) -> Any:
    """Look up `key` in a JSON object the way Go's encoding/json fills a struct field: by a
    case-insensitive match. `loads_json` has refused every object where two keys could be read
    as one; an object built otherwise with several matches is ambiguous and reads as None (Go
    would take the last, which a verifier must not guess at). None when `obj` is not an object
    or lacks the key."""
    if not isinstance(obj, dict):
        return None
    folded = case_fold(key)
    matches = [k for k in obj if case_fold(k) == folded]
    return obj[matches[0]] if len(matches) == 1 else None


def as_dict(value: Any, *, check: str, what: str,
            error: type[TrustError] = InvalidSignatureError) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise error(check, f"{what} is not a JSON object")
    return value


def opt_dict(value: Any, *, check: str, what: str,
             error: type[TrustError] = InvalidSignatureError) -> dict[str, Any]:
    """An optional object: absent (None) reads as empty; anything but an object is refused."""
    return {} if value is None else as_dict(value, check=check, what=what, error=error)


def opt_list(value: Any, *, check: str, what: str, limit: int,
             error: type[TrustError] = InvalidSignatureError) -> list[Any]:
    """An optional list of at most `limit` items: absent reads as empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise error(check, f"{what} is not a JSON list")
    if len(value) > limit:
        raise error(check, f"{what} has {len(value)} items (bound {limit})")
    return value


def as_str(value: Any, *, check: str, what: str, limit: int = MAX_JSON,
           error: type[TrustError] = InvalidSignatureError) -> str:
    if not isinstance(value, str):
        raise error(check, f"{what} is missing or not a string")
    if len(value) > limit:
        raise error(check, f"{what} too long")
    return value


def as_int(value: Any, *, check: str, what: str, minimum: int = 0,
           error: type[TrustError] = InvalidSignatureError) -> int:
    """JSON integers, also the decimal strings protobuf-JSON uses for int64 (ASCII digits only:
    `str.isdigit` would take Unicode digits Go refuses)."""
    if isinstance(value, bool):
        raise error(check, f"{what} is not an integer")
    if isinstance(value, str) and value.lstrip("-").isascii() and value.lstrip("-").isdigit() \
            and len(value) <= 20:
        value = int(value)
    if not isinstance(value, int):
        raise error(check, f"{what} is missing or not an integer")
    if value < minimum:
        raise error(check, f"{what} is below {minimum}")
    if value >= 2**63:
        raise error(check, f"{what} is out of range")
    return value
