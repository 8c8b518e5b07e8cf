"""`clamp verify`: one image (`--image`, cosign's flags) or every entry of a matrix (`--matrix`)."""

from __future__ import annotations

from pathlib import Path

import typer

from clamp.cli.common import INSECURE_OPTION, concurrency_option
from clamp.cli.trust_flags import (
    IDENTITY_OPTION,
    IDENTITY_REGEXP_OPTION,
    ISSUER_OPTION,
    ISSUER_REGEXP_OPTION,
    KEY_OPTION,
    REQUIRE_TLOG_OPTION,
    TRUSTED_ROOT_OPTION,
)


def verify(
    image: str | None = typer.Option(None, "--image", "-i",
                                     help="Verify this image (tag or digest; oci:DIR[:TAG])."),
    matrix: Path | None = typer.Option(None, "--matrix", "-m",
                                       help="Verify every pinned entry of this matrix."),
    key: list[Path] = KEY_OPTION,
    identity: str | None = IDENTITY_OPTION,
    identity_regexp: str | None = IDENTITY_REGEXP_OPTION,
    issuer: str | None = ISSUER_OPTION,
    issuer_regexp: str | None = ISSUER_REGEXP_OPTION,
    trusted_root: Path | None = TRUSTED_ROOT_OPTION,
    require_tlog: bool = REQUIRE_TLOG_OPTION,
    platform: str | None = typer.Option(None, "--platform",
                                        help="os/arch[/variant] of a multi-arch image."),
    attestation_type: list[str] = typer.Option(
        [], "--attestation-type", metavar="TYPE",
        help="Also require an attestation of this predicate type (repeatable: any one will do)."),
    version: str | None = typer.Option(None, "--version", help="With --matrix: only this "
                                       "version."),
    os_name: str | None = typer.Option(None, "--os", help="With --matrix: only this OS."),
    output: Path = typer.Option(Path("build/rocm_provenance.json"), "--output", "-o",
                                help="With --matrix: where to write the provenance."),
    dispatch: bool = typer.Option(False, "--dispatch", help="With --matrix: dispatch the update "
                                  "workflow on drift or signature failure, whatever the mode."),
    concurrency: int = concurrency_option("With --matrix: entries verified at once"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    insecure: list[str] = INSECURE_OPTION,
) -> int:
    """Verify signatures the way `cosign verify` does, offline and in-process.

    Exit codes: 0 verified; --image: 3 invalid signature, 4 unsigned, 5 identity mismatch;
    --matrix: 1 warnings only, 2 policy failure, 3 signature failure under strict;
    64 bad input, 69 registry/network error, 71 dispatch failed.
    """
    from clamp.errors import BadInputError

    if (image is None) == (matrix is None):
        raise BadInputError("give exactly one of --image or --matrix")
    if image is not None:
        from clamp.cli.trust_flags import policy_from_flags
        from clamp.cli.verify_image_view import run_verify_image

        policy = policy_from_flags(key, identity, identity_regexp, issuer, issuer_regexp,
                                   trusted_root, require_tlog)
        return run_verify_image(image, policy, platform=platform,
                                attestation_types=tuple(attestation_type), as_json=as_json,
                                insecure=insecure)
    assert matrix is not None
    image_only = {"--key": bool(key), "--certificate-identity": identity is not None,
                  "--certificate-identity-regexp": identity_regexp is not None,
                  "--certificate-oidc-issuer": issuer is not None,
                  "--certificate-oidc-issuer-regexp": issuer_regexp is not None,
                  "--trusted-root": trusted_root is not None, "--require-tlog": require_tlog,
                  "--platform": platform is not None, "--attestation-type": bool(attestation_type)}
    given = [flag for flag, used in image_only.items() if used]
    if given:
        raise BadInputError(f"{', '.join(given)}: for --image only; with --matrix the trust "
                            "policy comes from the matrix file")
    from clamp.cli.verify_matrix_view import run_verify_matrix

    return run_verify_matrix(matrix, version=version, os_name=os_name, output=output,
                             dispatch=dispatch, concurrency=concurrency, as_json=as_json,
                             insecure=insecure)


def register(app: typer.Typer) -> None:
    from clamp.cli.registry_flags import with_registry_flags

    app.command("verify")(with_registry_flags(verify))
