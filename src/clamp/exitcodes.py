"""The process exit codes every clamp command shares: the single source of the table, and the
one place that decides which code each outcome gets.

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
docs/verify.md document both tables; `tests/cli/test_seams.py` keeps README in step.

Only the face imports this module (the import-linter contract "exit-codes"): the lower rooms raise
errors that carry a `kind` (`clamp.errors.ErrorKind`) and return typed outcomes (a matrix run's
`RunOutcome`, an update's `Status`, a signature's verdict), and the `for_*` functions below map
them onto the table. It is the face's module although it sits outside `cli/`: `demo/` (a face
room below `cli/`) and the public API (`clamp/__init__.py`, `clamp/api.py`, for library users
that never import `clamp.cli`'s start-up trims) map through it too. Anything a mapping does not
know is INTERNAL_ERROR, never a passing code and never 1 or 2: a new kind or outcome that was
not added here fails closed.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clamp.errors import ErrorKind

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

#: An error's kind -> its code. `failed` is a ClampError that names no narrower kind.
ERROR_CODES: dict[ErrorKind, ExitCode] = {
    "failed": ExitCode.FAILED,
    "bad_input": ExitCode.BAD_INPUT,
    "registry": ExitCode.REGISTRY_ERROR,
    "conflict": ExitCode.CONFLICT,
    "dispatch": ExitCode.DISPATCH_ERROR,
    "invalid_signature": ExitCode.SIGNATURE_FAILED,
    "unsigned": ExitCode.UNSIGNED,
    "identity_mismatch": ExitCode.IDENTITY_MISMATCH,
    "missing_extra": ExitCode.MISSING_EXTRA,
}

# The outcomes below are keyed by their words, not their Literal types: this module is imported
# by `clamp/__init__.py`, and an import of verify's or update's types from here would be an
# arrow from every room that imports `clamp` (its version) to those rooms.
# tests/cli/test_exit_codes.py checks each table against the Literal it maps.

#: `clamp verify --matrix`: the run's outcome (clamp.verify.decision.RunOutcome) -> its code.
MATRIX_CODES: dict[str, ExitCode] = {
    "verified": ExitCode.OK,  # warnings included: reported, not coded
    "failed": ExitCode.FAILED,
    "signature_failed": ExitCode.SIGNATURE_FAILED,
    "registry_error": ExitCode.REGISTRY_ERROR,
    "dispatch_error": ExitCode.DISPATCH_ERROR,
}

#: `clamp update`: the run's status (clamp.update.report.Status) -> its code.
UPDATE_CODES: dict[str, ExitCode] = {
    "nothing_to_do": ExitCode.OK,
    "updated": ExitCode.UPDATED,
    "partially_updated": ExitCode.PARTIALLY_UPDATED,
    "nothing_updated": ExitCode.NOTHING_UPDATED,
    "pin_unverified": ExitCode.PIN_UNVERIFIED,
    "registry_error": ExitCode.REGISTRY_ERROR,
}

#: `clamp verify IMAGE`: a verification's verdict (clamp.trust.result.Verdict) -> its code.
VERDICT_CODES: dict[str, ExitCode] = {
    "verified": ExitCode.OK,
    "unsigned": ExitCode.UNSIGNED,
    "invalid": ExitCode.SIGNATURE_FAILED,
    "identity_mismatch": ExitCode.IDENTITY_MISMATCH,
    "error": ExitCode.REGISTRY_ERROR,
}


def for_error(error: BaseException) -> ExitCode:
    """The code for a typed error (its `kind`); an error of no known kind is a bug."""
    from clamp.errors import ClampError

    if not isinstance(error, ClampError):
        return ExitCode.INTERNAL_ERROR
    return ERROR_CODES.get(error.kind, ExitCode.INTERNAL_ERROR)



#: The public API's name for `for_error` (`clamp.exit_code_of(err)`): library users read the
#: code the CLI would exit with for an error, from the face's one table.
exit_code_of = for_error

def for_matrix(outcome: str) -> ExitCode:
    """The code `clamp verify --matrix` exits with (and records as `exitCode`)."""
    return MATRIX_CODES.get(outcome, ExitCode.INTERNAL_ERROR)


def for_update(status: str) -> ExitCode:
    """The code `clamp update` exits with (and records in its report and provenance)."""
    return UPDATE_CODES.get(status, ExitCode.INTERNAL_ERROR)


def for_verdict(verdict: str) -> ExitCode:
    """The code for one image's verdict under `clamp verify IMAGE`."""
    return VERDICT_CODES.get(verdict, ExitCode.INTERNAL_ERROR)
