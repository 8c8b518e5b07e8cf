"""Digest strings as a matrix file may hold them: pinned, placeholder, or malformed.

A pin is only useful if it is exactly what a registry would compute, so the accepted forms are
the OCI image-spec's registered algorithms with their canonical encoding (lowercase hex of the
right length). Everything else is classified rather than rejected outright, because the original
`ci/rocm_matrix.yml` marks "no release yet" with placeholders such as `sha256:TODO_NEXT_RELEASE`,
which must read as "unpinned" while a typo such as `sha256:12` must stop the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from clamp.oci.digest import ALGORITHMS, DIGEST_PATTERN, is_digest

__all__ = ["ALGORITHMS", "DIGEST_PATTERN", "DigestCheck", "DigestKind", "check_pinned",
           "classify", "is_digest"]

_CANONICAL = re.compile(DIGEST_PATTERN)
# Grammar of the OCI digest: algorithm ":" encoded (image-spec descriptor.md).
_GRAMMAR = re.compile(r"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):(.*)$", re.DOTALL)
# A placeholder is an all-caps word such as TODO, TBD or TODO_NEXT_RELEASE, containing at least
# one character that cannot be hex (G-Z or "_"), so uppercase hex like DEADBEEF stays an error.
_PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9]*(?:[_-][A-Z0-9]+)*$")
_NOT_HEX = re.compile(r"[G-Z_]")


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
    if _CANONICAL.match(value):
        return DigestCheck(DigestKind.PINNED, value)
    match = _GRAMMAR.match(value)
    if match is None:
        return DigestCheck(DigestKind.MALFORMED, value,
                           "expected <algorithm>:<hex>, e.g. sha256: followed by 64 hex characters")
    algorithm, encoded = match.group(1), match.group(2)
    if algorithm not in ALGORITHMS:
        names = " or ".join(sorted(ALGORITHMS))
        return DigestCheck(DigestKind.MALFORMED, value,
                           f"unsupported digest algorithm {algorithm!r} (expected {names})")
    if _PLACEHOLDER.match(encoded) and _NOT_HEX.search(encoded):
        return DigestCheck(DigestKind.PLACEHOLDER, value, "placeholder, not a digest")
    want = ALGORITHMS[algorithm]
    if re.fullmatch(r"[0-9a-fA-F]*", encoded) is None:
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

    Used by the models' validators, where a placeholder is as wrong as a typo (the native
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
