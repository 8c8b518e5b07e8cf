"""Content digests: parsing, computing, and checking received bytes against them.

A digest is only ever trusted after hashing the bytes that arrived; this module is the one place
that does the hashing so every caller compares the same way.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from clamp.errors import BadInputError, DigestMismatchError

#: The OCI image spec registers sha256 (64 hex) and sha512 (128 hex), lowercase only.
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}
#: The canonical forms as one pattern (JSON Schema `pattern`, quick checks).
DIGEST_PATTERN = r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$"
_HEX_LEN = ALGORITHMS
_DIGEST_RE = re.compile(r"^(sha256|sha512):([0-9a-f]+)$")
_CANONICAL = re.compile(DIGEST_PATTERN)


@dataclass(frozen=True, order=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def tag_form(self) -> str:
        """The `sha256-<hex>` form cosign uses for its `.sig`/`.att` tags."""
        return f"{self.algorithm}-{self.hex}"

    @property
    def referrers_tag(self) -> str:
        """The OCI referrers tag schema's `<alg>-<ref>`, `<ref>` cut to 64 characters (the same
        as `tag_form` for sha256; a sha512 tag would otherwise pass the 128-character limit)."""
        return f"{self.algorithm}-{self.hex[:64]}"

    def matches(self, data: bytes) -> bool:
        return hashlib.new(self.algorithm, data).hexdigest() == self.hex


def is_digest(text: str) -> bool:
    """True when `text` is a canonical sha256/sha512 digest."""
    return isinstance(text, str) and _CANONICAL.match(text) is not None


def parse_digest(text: str, *, where: str | None = None) -> Digest:
    """Parse `algo:hex`, rejecting anything the OCI spec would not accept for sha256/sha512."""
    if not isinstance(text, str):
        raise BadInputError(f"digest must be a string, got {type(text).__name__}", where=where)
    match = _DIGEST_RE.match(text)
    if match is None:
        raise BadInputError(
            f"malformed digest {text[:80]!r}: expected sha256:<64 lowercase hex> "
            "or sha512:<128 lowercase hex>", where=where)
    algorithm, hexpart = match.groups()
    if len(hexpart) != _HEX_LEN[algorithm]:
        raise BadInputError(
            f"malformed digest {text[:80]!r}: {algorithm} needs {_HEX_LEN[algorithm]} hex "
            f"characters, got {len(hexpart)}", where=where)
    return Digest(algorithm, hexpart)


def sha256_digest(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


def digest_of(data: bytes, algorithm: str = "sha256") -> Digest:
    return Digest(algorithm, hashlib.new(algorithm, data).hexdigest())


def verify_bytes(data: bytes, expected: Digest | str, *, what: str) -> Digest:
    """Return the expected digest if `data` hashes to it, else raise DigestMismatchError."""
    want = parse_digest(expected) if isinstance(expected, str) else expected
    got = digest_of(data, want.algorithm)
    if got != want:
        raise DigestMismatchError(f"bytes received hash to {got}, not {want}", where=what)
    return want
