"""Content digests: the one grammar, for the registry client and the matrix alike.

A digest is only ever trusted after hashing the bytes that arrived; this module is the one place
that does the hashing so every caller compares the same way. The accepted forms are the OCI
image-spec's registered algorithms with their canonical encoding (lowercase hex of exactly the
right length, nothing around it: no trailing newline, no whitespace, no uppercase). A matrix file
may also hold placeholders (the original `ci/rocm_matrix.yml` marks "no release yet" with
`sha256:TODO_NEXT_RELEASE`), which `classify` tells from pins and from typos such as `sha256:12`:
a placeholder reads as "unpinned", a typo stops the run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import Enum

from clamp.errors import BadInputError, DigestMismatchError

#: The OCI image spec registers sha256 (64 hex) and sha512 (128 hex), lowercase only.
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}
#: The canonical forms as one pattern (JSON Schema `pattern`); Python matches it whole
#: (`fullmatch`: a `$` alone would let a trailing newline through).
DIGEST_PATTERN = r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$"
#: Longer than any digest (and any sensible placeholder): classified without reading further.
MAX_DIGEST_TEXT = 256
_CANONICAL = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}", re.ASCII)
_DIGEST_RE = re.compile(r"(sha256|sha512):([0-9a-f]+)", re.ASCII)
# Grammar of the OCI digest: algorithm ":" encoded (image-spec descriptor.md).
_GRAMMAR = re.compile(r"([a-z0-9]+(?:[+._-][a-z0-9]+)*):(.*)", re.DOTALL | re.ASCII)
# A placeholder is an all-caps word such as TODO, TBD or TODO_NEXT_RELEASE, containing at least
# one character that cannot be hex (G-Z or "_"), so uppercase hex like DEADBEEF stays an error.
_PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9]*(?:[_-][A-Z0-9]+)*", re.ASCII)
_NOT_HEX = re.compile(r"[G-Z_]")
_ANY_HEX = re.compile(r"[0-9a-fA-F]*", re.ASCII)


@dataclass(frozen=True, order=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def tag_form(self) -> str:
        """`<algorithm>-<hex>`: a digest spelt as a tag (cosign's `.sig`/`.att` tags use it)."""
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
    return isinstance(text, str) and _CANONICAL.fullmatch(text) is not None


def parse_digest(text: str, *, where: str | None = None) -> Digest:
    """Parse `algo:hex`, rejecting anything the OCI spec would not accept for sha256/sha512."""
    if not isinstance(text, str):
        raise BadInputError(f"digest must be a string, got {type(text).__name__}", where=where)
    match = _DIGEST_RE.fullmatch(text) if len(text) <= MAX_DIGEST_TEXT else None
    if match is None:
        raise BadInputError(
            f"malformed digest {text[:80]!r}: expected sha256:<64 lowercase hex> "
            "or sha512:<128 lowercase hex>", where=where)
    algorithm, hexpart = match.groups()
    if len(hexpart) != ALGORITHMS[algorithm]:
        raise BadInputError(
            f"malformed digest {text[:80]!r}: {algorithm} needs {ALGORITHMS[algorithm]} hex "
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


# ---- digest strings as a matrix file may hold them ----------------------------------------------


class DigestKind(Enum):
    PINNED = "pinned"
    PLACEHOLDER = "placeholder"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class DigestCheck:
    """Outcome of classifying one digest string; `reason` explains non-pinned results."""

    kind: DigestKind
    value: str
    reason: str = ""


def classify(value: str) -> DigestCheck:
    """Tell a pin from a placeholder from a malformed digest, with a reason for the last two."""
    if is_digest(value):
        return DigestCheck(DigestKind.PINNED, value)
    if len(value) > MAX_DIGEST_TEXT:
        return DigestCheck(DigestKind.MALFORMED, value,
                           f"{len(value)} characters, longer than any digest")
    match = _GRAMMAR.fullmatch(value)
    if match is None:
        return DigestCheck(DigestKind.MALFORMED, value,
                           "expected <algorithm>:<hex>, e.g. sha256: followed by 64 hex characters")
    algorithm, encoded = match.group(1), match.group(2)
    if algorithm not in ALGORITHMS:
        names = " or ".join(sorted(ALGORITHMS))
        return DigestCheck(DigestKind.MALFORMED, value,
                           f"unsupported digest algorithm {algorithm!r} (expected {names})")
    if _PLACEHOLDER.fullmatch(encoded) and _NOT_HEX.search(encoded):
        return DigestCheck(DigestKind.PLACEHOLDER, value, "placeholder, not a digest")
    want = ALGORITHMS[algorithm]
    if _ANY_HEX.fullmatch(encoded) is None:
        return DigestCheck(DigestKind.MALFORMED, value,
                           f"{algorithm} digest must be {want} lowercase hex characters; "
                           "found non-hex characters")
    if encoded != encoded.lower():
        return DigestCheck(DigestKind.MALFORMED, value,
                           f"{algorithm} digest must be lowercase hex")
    return DigestCheck(DigestKind.MALFORMED, value,
                       f"{algorithm} digest must be {want} hex characters, got {len(encoded)}")


def check_pinned(value: str) -> str:
    """Return `value` if it is a canonical digest, else raise ValueError with the reason.

    Used by the matrix models' validators, where a placeholder is as wrong as a typo (the native
    format says "unpinned" with an explicit `null`).
    """
    result = classify(value)
    if result.kind is DigestKind.PINNED:
        return value
    if result.kind is DigestKind.PLACEHOLDER:
        raise ValueError(f"placeholder digest {value!r}: write `digest: null` to leave an entry "
                         "unpinned")
    raise ValueError(f"malformed digest {_short(value)!r}: {result.reason}")


def _short(value: str) -> str:
    return value if len(value) <= 80 else value[:77] + "..."
