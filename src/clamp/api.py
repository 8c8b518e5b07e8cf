"""The library face behind `clamp`'s public names: verify one image, verify a matrix.

Each call is what the matching command does (`clamp verify IMAGE`, `clamp verify --matrix`),
without printing, writing files or choosing an exit code: the caller gets the typed results.
Bad input raises a `clamp.ClampError` (one line; `clamp.exit_code_of(err)` is the code the CLI
would use, the face's mapping of its `kind`); a signature
that does not verify is a result (`ok` False, `verdict`/`check`/`reason` saying why), never an
exception. Registry settings come from the environment as the CLI's (DOCKER_CONFIG, credential
helpers, CLAMP_* variables); `insecure` names the hosts reached over plain HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clamp.oci.pool import ClientOptions
    from clamp.signed.image import ImageVerification
    from clamp.trust.policy import Policy
    from clamp.verify.run import MatrixRun


def _options(insecure: Sequence[str], concurrency: int) -> ClientOptions:
    from clamp.oci.pool import DEFAULT_IN_FLIGHT, ClientOptions

    return ClientOptions.from_env(insecure=list(insecure),
                                  max_concurrency=max(DEFAULT_IN_FLIGHT, 2 * concurrency))


async def verify_image_async(image: str, policy: Policy | Sequence[Policy], *,
                             platform: str | None = None,
                             attestation_types: Sequence[str] = (),
                             insecure: Sequence[str] = ()) -> ImageVerification:
    """`verify_image`, in the caller's event loop."""
    from clamp.errors import BadInputError
    from clamp.oci.manifest import Platform
    from clamp.oci.store import Stores, parse_image_ref
    from clamp.signed.image import verify_image as verify_one

    policies = _policies(policy)
    ref = parse_image_ref(image, where="image")
    try:
        plat = Platform.parse(platform) if platform else None
    except ValueError as exc:
        raise BadInputError(str(exc), where="platform") from None
    async with Stores(_options(insecure, 1)) as stores:
        return await verify_one(stores.open(ref), ref, policies, platform=plat,
                                attestation_types=tuple(attestation_types),
                                require_attestation=bool(attestation_types))


def verify_image(image: str, policy: Policy | Sequence[Policy], *,
                 platform: str | None = None, attestation_types: Sequence[str] = (),
                 insecure: Sequence[str] = ()) -> ImageVerification:
    """Resolve `image` (a tag, a digest, or `oci:DIR[:TAG]`) and verify its signatures
    against `policy` (several policies: any one may pass). With `attestation_types`, an
    attestation of one of those predicate types must verify too (cosign's
    `--attestation-type`). The result's `ok` says whether it did; `result` (and
    `attestation`) say why not."""
    return asyncio.run(verify_image_async(image, policy, platform=platform,
                                          attestation_types=attestation_types,
                                          insecure=insecure))


async def verify_matrix_async(matrix: str | Path, *, version: str | None = None,
                              os: str | None = None, concurrency: int = 16,
                              insecure: Sequence[str] = ()) -> MatrixRun:
    """`verify_matrix`, in the caller's event loop."""
    from clamp.errors import BadInputError
    from clamp.exitcodes import for_matrix
    from clamp.matrix import load
    from clamp.oci.store import Stores
    from clamp.verify.run import run_matrix

    if not 1 <= concurrency <= 256:
        raise BadInputError("concurrency must be within 1..256", where="concurrency")
    loaded = load(Path(matrix))
    async with Stores(_options(insecure, concurrency)) as stores:
        return await run_matrix(loaded, stores, exit_code_of=for_matrix, version=version,
                                os_name=os, concurrency=concurrency)


def verify_matrix(matrix: str | Path, *, version: str | None = None, os: str | None = None,
                  concurrency: int = 16, insecure: Sequence[str] = ()) -> MatrixRun:
    """Verify every pinned entry of the matrix file (or those of `version`/`os`) under its
    own trust entries and policy modes, as `clamp verify --matrix` does (its dispatch rule
    included: only with a GITHUB_TOKEN). The run's `decisions` say what each entry's mode made
    of its outcome, `outcome` what the run came to, `document` the provenance the CLI would
    write, and `exit_code` the code the CLI would exit with (the face's, as in `document`)."""
    return asyncio.run(verify_matrix_async(matrix, version=version, os=os,
                                           concurrency=concurrency, insecure=insecure))


def _policies(policy: Policy | Sequence[Policy]) -> list[Policy]:
    from clamp.errors import BadInputError
    from clamp.trust.policy import Policy

    policies = [policy] if isinstance(policy, Policy) else list(policy)
    if not policies or not all(isinstance(p, Policy) for p in policies):
        raise BadInputError("give a clamp.Policy (or a non-empty list of them)", where="policy")
    if any(p.effective_rule is None for p in policies):
        raise BadInputError("a policy trusts no key and no identity", where="policy")
    return policies


__all__ = ["verify_image", "verify_image_async", "verify_matrix", "verify_matrix_async"]
