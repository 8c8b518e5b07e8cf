"""The process exit codes every clamp command shares.

One table for the whole tool, so a CI script can branch on a number without knowing which
command produced it. The first four keep the meaning the original `verify_rocm_digest.py` gave
them; the rest are distinct per failure class so "the registry was down" is never mistaken for
"the signature was bad". Documented in README.md (keep both in step).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    WARNINGS = 1  # warnings only: warn-mode findings, stale pins, unpinned entries skipped
    FAILED = 2  # a policy failure: drift, digest mismatch, stale pin under strict, missing tag
    SIGNATURE_FAILED = 3  # a signature did not verify (under strict for a matrix)
    UNSIGNED = 4  # no signature or bundle was found at all
    IDENTITY_MISMATCH = 5  # a signature verified, but not from a trusted signer
    NOTHING_UPDATED = 6  # update: candidates existed but none verified, so nothing was pinned
    PARTIALLY_UPDATED = 7  # update: some entries updated, some candidates rejected
    UPDATED = 10  # update: matrix updated (every candidate found verified and was pinned)
    BAD_INPUT = 64  # malformed file, unknown key, bad digest, bad flag
    REGISTRY_ERROR = 69  # registry/network unreachable, hostile or inconsistent responses
    INTERNAL_ERROR = 70  # a bug in clamp: please report it with CLAMP_DEBUG=1 output
    DISPATCH_ERROR = 71  # GitHub API refused or failed the workflow dispatch
    CONFLICT = 75  # a file changed between read and write; nothing was overwritten
    INTERRUPTED = 130
