"""The process exit codes every clamp command shares: the single source of the table.

One table for the whole tool, so a CI script can branch on a number without knowing which
command produced it. Two numbers are never used by clamp on purpose: 1 is what Python exits with
when it crashes before clamp runs (an import error, a broken install) and 2 is a usage error from
click/argparse. A CI step that treated either as a pass would let a broken install through, so
no outcome CI may treat as passing, and no failure, shares them. Warnings (warn-mode findings,
stale pins, unpinned entries skipped) exit 0 and are reported in annotations, the provenance's
`status`, and on stderr. Every failure class keeps its own code, so "the registry was down" is
never mistaken for "the signature was bad".

The seed's shim `ci/verify_rocm_digest.py` keeps the origin's own table (0 ok, 1 warnings,
2 failure, 3 signature failure) for the origin's workflows. README.md ("Exit codes") and
docs/verify.md document both tables; `tests/cli/test_exit_codes.py` keeps README in step.
"""

from __future__ import annotations

from enum import IntEnum

#: Codes a Python crash (1) or a usage error (2) produce: clamp never exits with them.
RESERVED = frozenset({1, 2})


class ExitCode(IntEnum):
    OK = 0  # verified (warnings, if any, are reported, not coded)
    SIGNATURE_FAILED = 3  # a signature did not verify (invalid; a matrix: any signature failure)
    UNSIGNED = 4  # no signature or bundle was found at all
    IDENTITY_MISMATCH = 5  # a signature verified, but not from a trusted signer
    NOTHING_UPDATED = 6  # update: candidates existed but none verified, so nothing was pinned
    PARTIALLY_UPDATED = 7  # update: some entries updated, some candidates rejected
    FAILED = 8  # a policy failure: drift, digest mismatch, stale or missing pin under strict
    PIN_UNVERIFIED = 9  # update: a pin no longer verifies and no verified candidate replaced it
    UPDATED = 10  # update: matrix updated (every candidate found verified and was pinned)
    NOT_REPRODUCED = 11  # provenance verify: a record's verdict is not reproduced from its evidence
    BAD_INPUT = 64  # malformed file, unknown key, bad digest, bad flag
    REGISTRY_ERROR = 69  # registry/network unreachable, hostile or inconsistent responses
    INTERNAL_ERROR = 70  # a bug in clamp: please report it with CLAMP_DEBUG=1 output
    DISPATCH_ERROR = 71  # GitHub API refused or failed the workflow dispatch
    CONFLICT = 75  # a file changed between read and write; nothing was overwritten
    MISSING_EXTRA = 78  # an optional dependency is not installed; the message names the extra
    INTERRUPTED = 130


#: What each code means, in words: README's table is checked against this.
MEANING: dict[ExitCode, str] = {
    ExitCode.OK: "success: everything verified, nothing to do; warnings only (reported, not "
    "coded)",
    ExitCode.SIGNATURE_FAILED: "signature failure",
    ExitCode.UNSIGNED: "unsigned",
    ExitCode.IDENTITY_MISMATCH: "identity mismatch",
    ExitCode.NOTHING_UPDATED: "update: candidates found but none verified",
    ExitCode.PARTIALLY_UPDATED: "update: some entries updated, some candidates rejected",
    ExitCode.FAILED: "policy failure",
    ExitCode.PIN_UNVERIFIED: "update: a pin no longer verifies",
    ExitCode.UPDATED: "update: matrix updated",
    ExitCode.NOT_REPRODUCED: "`provenance verify`: a record's verdict (or the summary) is not "
    "reproduced from its evidence",
    ExitCode.BAD_INPUT: "bad input",
    ExitCode.REGISTRY_ERROR: "registry or network error",
    ExitCode.INTERNAL_ERROR: "internal error",
    ExitCode.DISPATCH_ERROR: "the GitHub workflow dispatch failed",
    ExitCode.CONFLICT: "the file changed between read and write",
    ExitCode.MISSING_EXTRA: "an optional dependency is not installed",
    ExitCode.INTERRUPTED: "interrupted",
}

#: The codes a CI step may treat as passing: `clamp verify` and `clamp resolve` pass only on 0;
#: `clamp update` also on 10 and 7 (a pull request is opened for what verified).
PASSING_VERIFY = frozenset({ExitCode.OK})
PASSING_UPDATE = frozenset({ExitCode.OK, ExitCode.UPDATED, ExitCode.PARTIALLY_UPDATED})
