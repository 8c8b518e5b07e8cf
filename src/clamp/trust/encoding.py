"""Bounded, strict decoders for everything a signature carries: base64, PEM, JSON.

Every input here may be hostile (it came from a registry or a user's file), so each decoder caps
the size first and raises `TrustError` naming the check, never a bare `ValueError`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import rfc8785

from clamp.trust.errors import InvalidSignatureError, TrustError

MAX_SIGNATURE_B64 = 16 * 1024  # an RSA-8192 signature is 1 KiB; leave generous room
MAX_PEM = 64 * 1024  # a certificate chain of a handful of certs
MAX_JSON = 8 * 1024 * 1024  # payloads, bundles, trust roots
MAX_JSON_DEPTH = 64


def b64decode(text: str | bytes, *, check: str, limit: int = MAX_JSON,
              urlsafe: bool = False) -> bytes:
    """Strict base64 (standard alphabet, padding required, no junk); raise naming `check`."""
    if isinstance(text, str):
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError as exc:
            raise InvalidSignatureError(check, "not base64 (non-ASCII characters)") from exc
    else:
        raw = text
    if len(raw) > limit:
        raise InvalidSignatureError(check, f"base64 data too large ({len(raw)} > {limit} bytes)")
    # Go's base64 decoder (and so protojson, cosign, Rekor) skips CR and LF anywhere.
    raw = raw.replace(b"\r", b"").replace(b"\n", b"")
    if urlsafe:
        raw = raw.replace(b"-", b"+").replace(b"_", b"/")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignatureError(check, "not valid base64") from exc


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def loads_json(data: bytes | str, *, check: str, limit: int = MAX_JSON,
               error: type[TrustError] = InvalidSignatureError) -> Any:
    """Parse JSON with a size cap and a nesting cap; reject duplicate keys and NaN."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > limit:
        raise error(check, f"JSON too large ({len(raw)} > {limit} bytes)")
    if _depth_exceeds(raw, MAX_JSON_DEPTH):
        raise error(check, f"JSON nested deeper than {MAX_JSON_DEPTH}")

    def no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            out[key] = value
        return out

    def no_constants(name: str) -> Any:
        raise ValueError(f"invalid JSON constant {name}")

    try:
        return json.loads(raw, object_pairs_hook=no_dupes, parse_constant=no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise error(check, f"malformed JSON ({exc})") from exc


def _depth_exceeds(raw: bytes, limit: int) -> bool:
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes of `value`: the form Rekor signs its SETs over."""
    return bytes(rfc8785.dumps(value))


def go_get(obj: Any, key: str) -> Any:
    """Look up `key` in a JSON object the way Go's encoding/json fills a struct field.

    An exact match wins; otherwise the first key equal under case-folding. Go's decoder takes
    the last of several case-insensitive matches when no exact one exists; we refuse ambiguity
    instead (None), because two spellings of one field in a signed payload are an attack.
    """
    if not isinstance(obj, dict):
        return None
    if key in obj:
        return obj[key]
    folded = [k for k in obj if k.casefold() == key.casefold()]
    if len(folded) != 1:
        return None
    return obj[folded[0]]


def as_dict(value: Any, *, check: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidSignatureError(check, f"{what} is not a JSON object")
    return value


def as_str(value: Any, *, check: str, what: str, limit: int = MAX_JSON) -> str:
    if not isinstance(value, str):
        raise InvalidSignatureError(check, f"{what} is missing or not a string")
    if len(value) > limit:
        raise InvalidSignatureError(check, f"{what} too long")
    return value


def as_int(value: Any, *, check: str, what: str, minimum: int = 0) -> int:
    """JSON integers, also the decimal strings protobuf-JSON uses for int64."""
    if isinstance(value, bool):
        raise InvalidSignatureError(check, f"{what} is not an integer")
    if isinstance(value, str) and value.lstrip("-").isdigit() and len(value) <= 20:
        value = int(value)
    if not isinstance(value, int):
        raise InvalidSignatureError(check, f"{what} is missing or not an integer")
    if value < minimum:
        raise InvalidSignatureError(check, f"{what} is below {minimum}")
    return value
