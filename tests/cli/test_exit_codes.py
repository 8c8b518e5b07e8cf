"""Exit codes are decided in one place of the face (clamp.exitcodes): every error kind and every
typed outcome of the lower rooms maps to a code, each exactly the one the CLI has always used,
and anything the tables do not know is an internal error, never a passing code or 1/2.

The lower rooms name no code (the import-linter contract "exit-codes", tests/test_layers.py);
these tests pin the other half: the mapping is total, fails closed, and is what the provenance
records.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from pathlib import Path
from typing import Any, get_args

import pytest

import clamp
from clamp import errors, exitcodes
from clamp.errors import ClampError, ErrorKind
from clamp.exitcodes import (
    ERROR_CODES,
    MATRIX_CODES,
    PASSING_UPDATE,
    PASSING_VERIFY,
    RESERVED,
    UPDATE_CODES,
    VERDICT_CODES,
    ExitCode,
    for_error,
    for_matrix,
    for_update,
    for_verdict,
)
from clamp.trust.result import Verdict
from clamp.update.report import Status
from clamp.verify.decision import RunOutcome

# Every typed error clamp raises, with the code the CLI has exited with for it since before
# the kinds: a change here is a change of the documented table (README, docs/verify.md).
TODAY = {
    "clamp.errors.ClampError": 8,
    "clamp.errors.BadInputError": 64,
    "clamp.errors.RegistryError": 69,
    "clamp.errors.NotFoundError": 69,
    "clamp.errors.DigestMismatchError": 69,
    "clamp.errors.AuthError": 69,
    "clamp.errors.ConflictError": 75,
    "clamp.errors.DispatchError": 71,
    "clamp.trust.errors.TrustError": 3,
    "clamp.trust.errors.InvalidSignatureError": 3,
    "clamp.trust.errors.MalformedError": 64,
    "clamp.trust.errors.IdentityMismatchError": 5,
    "clamp.trust.errors.UnsignedError": 4,
    "clamp.trust.errors.TrustInputError": 64,
    "clamp.trust.rules.PolicyUnmetError": 5,
    "clamp.matrix.source.MatrixError": 64,
    "clamp.oci.auth_flow._CredentialsRefused": 69,
    "clamp.cli.extras.MissingExtraError": 78,
    "clamp.demo.local_registry.RegistryStartError": 8,
}
MATRIX_TODAY = {"verified": 0, "failed": 8, "signature_failed": 3, "registry_error": 69,
                "dispatch_error": 71}
UPDATE_TODAY = {"nothing_to_do": 0, "updated": 10, "partially_updated": 7, "nothing_updated": 6,
                "pin_unverified": 9, "registry_error": 69}
VERDICT_TODAY = {"verified": 0, "unsigned": 4, "invalid": 3, "identity_mismatch": 5,
                 "error": 69}


def _every_error_class() -> dict[str, type[ClampError]]:
    """Every ClampError subclass defined anywhere in src/clamp (each module imported once)."""
    for info in pkgutil.walk_packages(clamp.__path__, "clamp."):
        if info.name.endswith("__main__"):  # running it would run the CLI
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed (duckdb)
            continue
    found: dict[str, type[ClampError]] = {}
    todo: list[type[ClampError]] = [ClampError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("clamp."):  # not the tests' own
            found[f"{cls.__module__}.{cls.__qualname__}"] = cls
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_kind_maps_to_a_failing_code() -> None:
    assert set(ERROR_CODES) == set(get_args(ErrorKind))
    for kind, code in ERROR_CODES.items():
        assert code not in PASSING_UPDATE | PASSING_VERIFY, kind  # an error never passes
        assert code not in RESERVED and code != ExitCode.INTERNAL_ERROR, kind


def test_every_error_class_keeps_its_code() -> None:
    """Each typed error in the source exits as it always has; a new one must be added here
    (and gets a known kind, or mypy and this test refuse it)."""
    classes = _every_error_class()
    assert set(classes) == set(TODAY), set(classes) ^ set(TODAY)
    for name, cls in classes.items():
        assert cls.kind in get_args(ErrorKind), name
        error = cls.__new__(cls)  # the code depends on the class alone, not on the message
        assert int(for_error(error)) == TODAY[name], name


def test_every_run_outcome_maps_to_its_code() -> None:
    assert set(MATRIX_CODES) == set(get_args(RunOutcome))
    assert {k: int(for_matrix(k)) for k in get_args(RunOutcome)} == MATRIX_TODAY
    assert set(UPDATE_CODES) == set(get_args(Status))
    assert {k: int(for_update(k)) for k in get_args(Status)} == UPDATE_TODAY
    assert set(VERDICT_CODES) == set(get_args(Verdict))
    assert {k: int(for_verdict(k)) for k in get_args(Verdict)} == VERDICT_TODAY


def test_only_successes_map_to_passing_codes() -> None:
    assert {k for k in MATRIX_CODES if for_matrix(k) in PASSING_VERIFY} == {"verified"}
    assert {k for k in UPDATE_CODES if for_update(k) in PASSING_UPDATE} == {
        "nothing_to_do", "updated", "partially_updated"}
    assert {k for k in VERDICT_CODES if for_verdict(k) in PASSING_VERIFY} == {"verified"}
    every = [*ERROR_CODES.values(), *MATRIX_CODES.values(), *UPDATE_CODES.values(),
             *VERDICT_CODES.values()]
    assert not {int(code) for code in every} & RESERVED


class _NewKind(ClampError):
    kind = "brand_new"  # type: ignore[assignment]  # what a forgotten table entry looks like


@pytest.mark.parametrize("unknown", [_NewKind("x"), ValueError("x"), KeyboardInterrupt()])
def test_an_unknown_error_is_an_internal_error(unknown: BaseException) -> None:
    assert for_error(unknown) == ExitCode.INTERNAL_ERROR == 70


@pytest.mark.parametrize("mapping", [for_matrix, for_update, for_verdict])
@pytest.mark.parametrize("unknown", ["brand_new", "", "OK", "0", "warnings"])
def test_an_unknown_outcome_is_an_internal_error(mapping: Any, unknown: str) -> None:
    assert mapping(unknown) == ExitCode.INTERNAL_ERROR == 70


def test_library_users_read_the_faces_code_on_an_error() -> None:
    """`clamp.exit_code_of(err)` (the public API's promise) is the face's mapping, and an
    error itself carries no code: a lower room cannot read a number it was not given."""
    with pytest.raises(clamp.ClampError) as caught:
        clamp.AllOf(())
    assert caught.value.kind == "bad_input"
    assert clamp.exit_code_of(caught.value) == for_error(caught.value) == 64
    assert not hasattr(errors.BadInputError("x"), "exit_code")


def test_the_provenance_records_the_code_the_face_decided(tmp_path: Path) -> None:
    """run_matrix writes into `exitCode` exactly what the face's mapping returned: the number
    a CI step reads in the file is the one the process exits with."""
    from clamp.matrix import load
    from clamp.oci.store import Stores
    from clamp.verify.run import run_matrix

    path = tmp_path / "matrix.yml"  # one unpinned entry: nothing to fetch, a "verified" run
    path.write_text('version: 1\ndefaults:\n  registry: "127.0.0.1:9"\n  repository: r/img\n'
                    '  tag: "{version}-{os}"\nimages:\n  - version: "6.4"\n    os: u\n'
                    '    digest: null\n')
    seen: list[str] = []

    def decide(outcome: RunOutcome) -> int:
        seen.append(outcome)
        return 42

    async def go() -> Any:
        async with Stores() as stores:
            return await run_matrix(load(path), stores, exit_code_of=decide)

    run = asyncio.run(go())
    assert seen == ["verified"] and run.outcome == "verified"
    assert run.exit_code == run.document.exitCode == 42
    assert run.document.status == "warnings"  # an unpinned entry skipped: reported, not coded
    assert exitcodes.for_matrix(run.outcome) == 0
