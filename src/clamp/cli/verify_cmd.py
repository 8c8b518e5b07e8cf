"""`clamp verify`: images (`clamp verify [flags] IMAGE...`, cosign's shape, or repeated
`--image`) or every entry of a matrix (`--matrix`)."""

from __future__ import annotations

from pathlib import Path

import typer

from clamp.cli.common import INSECURE_OPTION, concurrency_option
from clamp.cli.trust_flags import (
    IDENTITY_OPTION,
    IDENTITY_REGEXP_OPTION,
    INSECURE_IGNORE_TLOG_OPTION,
    ISSUER_OPTION,
    ISSUER_REGEXP_OPTION,
    KEY_OPTION,
    REQUIRE_TLOG_OPTION,
    TRUSTED_ROOT_OPTION,
    WORKFLOW_NAME_OPTION,
    WORKFLOW_REF_OPTION,
    WORKFLOW_REPOSITORY_OPTION,
    WORKFLOW_SHA_OPTION,
    WORKFLOW_TRIGGER_OPTION,
)

#: Where `--matrix` writes its provenance when `--output` is not given.
DEFAULT_OUTPUT = Path("build/rocm_provenance.json")


def verify(
    positional: list[str] | None = typer.Argument(
        None, metavar="IMAGE", show_default=False,
        help="Images to verify (tag or digest; oci:DIR[:TAG]); every one must verify."),
    image: list[str] = typer.Option([], "--image", "-i", show_default=False, metavar="IMAGE",
                                    help="An image to verify (repeatable; same as IMAGE)."),
    matrix: Path | None = typer.Option(None, "--matrix", "-m",
                                       help="Verify every pinned entry of this matrix."),
    key: list[Path] = KEY_OPTION,
    identity: str | None = IDENTITY_OPTION,
    identity_regexp: str | None = IDENTITY_REGEXP_OPTION,
    issuer: str | None = ISSUER_OPTION,
    issuer_regexp: str | None = ISSUER_REGEXP_OPTION,
    github_workflow_trigger: str | None = WORKFLOW_TRIGGER_OPTION,
    github_workflow_sha: str | None = WORKFLOW_SHA_OPTION,
    github_workflow_name: str | None = WORKFLOW_NAME_OPTION,
    github_workflow_repository: str | None = WORKFLOW_REPOSITORY_OPTION,
    github_workflow_ref: str | None = WORKFLOW_REF_OPTION,
    trusted_root: Path | None = TRUSTED_ROOT_OPTION,
    insecure_ignore_tlog: bool = INSECURE_IGNORE_TLOG_OPTION,
    require_tlog: bool = REQUIRE_TLOG_OPTION,
    platform: str | None = typer.Option(None, "--platform",
                                        help="os/arch[/variant] of a multi-arch image."),
    attestation_type: list[str] = typer.Option(
        [], "--attestation-type", metavar="TYPE",
        help="Also require an attestation of this predicate type (repeatable: any one will do)."),
    version: str | None = typer.Option(None, "--version", help="With --matrix: only this "
                                       "version."),
    os_name: str | None = typer.Option(None, "--os", help="With --matrix: only this OS."),
    output: Path | None = typer.Option(None, "--output", "-o", show_default=False,
                                       help=f"With --matrix: where to write the provenance "
                                       f"(default {DEFAULT_OUTPUT})."),
    sarif: Path | None = typer.Option(None, "--sarif", help="With --matrix: also write SARIF "
                                      "2.1.0 (one result per failed or warned entry)."),
    vsa: Path | None = typer.Option(None, "--vsa", help="With --matrix: also write one signed "
                                    "SLSA verification summary (DSSE) per image, one per line."),
    vsa_key: Path | None = typer.Option(None, "--vsa-key", help="cosign.key signing the VSAs "
                                        "(password: CLAMP_PASSWORD / COSIGN_PASSWORD)."),
    attach: bool = typer.Option(False, "--attach", help="With --vsa: also push each VSA to its "
                                "image as an OCI referrer (a sigstore bundle)."),
    dispatch: bool = typer.Option(False, "--dispatch", help="With --matrix: dispatch the update "
                                  "workflow on drift or signature failure, whatever the mode "
                                  "(the decisions, and so the exit code, stay the same)."),
    concurrency: int = concurrency_option("Images or matrix entries verified at once"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (one image: "
                                 "an object; several: a list; --matrix: the provenance)."),
    insecure: list[str] = INSECURE_OPTION,
) -> int:
    """Verify signatures the way `cosign verify` does, offline and in-process.

    Exit codes: 0 verified (warnings are reported, not coded); images: 3 invalid signature,
    4 unsigned, 5 identity mismatch (several images: the first failing image's code);
    --matrix: 8 policy failure, 3 signature failure; 64 bad input, 69 registry/network
    error, 71 dispatch failed. Never 1 or 2 (a crash, a usage error).
    """
    from clamp.cli.trust_flags import GITHUB_CLAIM_FLAGS, github_claims, tlog_required
    from clamp.errors import BadInputError

    claim_values = (github_workflow_trigger, github_workflow_sha, github_workflow_name,
                    github_workflow_repository, github_workflow_ref)

    images = [*(positional or []), *image]
    if bool(images) == (matrix is not None):
        raise BadInputError("give images (IMAGE... or --image) or --matrix, not both"
                            if images else "give an IMAGE (or --image) or --matrix")
    if images:
        matrix_only = {"--version": version is not None, "--os": os_name is not None,
                       "--output": output is not None, "--dispatch": dispatch,
                       "--sarif": sarif is not None, "--vsa": vsa is not None,
                       "--vsa-key": vsa_key is not None, "--attach": attach}
        given = [flag for flag, used in matrix_only.items() if used]
        if given:
            raise BadInputError(f"{', '.join(given)}: for --matrix only; images are verified "
                                "and reported one line each (use --json for a record)")
        from clamp.cli.trust_flags import policy_from_flags
        from clamp.cli.verify_image_view import run_verify_images

        policy = policy_from_flags(key, identity, identity_regexp, issuer, issuer_regexp,
                                   trusted_root, tlog_required(insecure_ignore_tlog,
                                                               require_tlog),
                                   claims=github_claims(*claim_values))
        return run_verify_images(images, policy, platform=platform,
                                 attestation_types=tuple(attestation_type), as_json=as_json,
                                 insecure=insecure, concurrency=concurrency)
    assert matrix is not None
    image_only = {"--key": bool(key), "--certificate-identity": identity is not None,
                  "--certificate-identity-regexp": identity_regexp is not None,
                  "--certificate-oidc-issuer": issuer is not None,
                  "--certificate-oidc-issuer-regexp": issuer_regexp is not None,
                  "--trusted-root": trusted_root is not None, "--require-tlog": require_tlog,
                  "--insecure-ignore-tlog": insecure_ignore_tlog,
                  "--platform": platform is not None, "--attestation-type": bool(attestation_type),
                  **{flag: value is not None
                     for flag, value in zip(GITHUB_CLAIM_FLAGS, claim_values, strict=True)}}
    if (vsa is None) != (vsa_key is None):
        raise BadInputError("--vsa and --vsa-key go together")
    if attach and vsa is None:
        raise BadInputError("--attach: needs --vsa and --vsa-key")
    given = [flag for flag, used in image_only.items() if used]
    if given:
        raise BadInputError(f"{', '.join(given)}: for images only; with --matrix the trust "
                            "policy comes from the matrix file (`tlog: optional` opts out of "
                            "the log)")
    from clamp.cli.verify_matrix_view import run_verify_matrix

    return run_verify_matrix(matrix, version=version, os_name=os_name,
                             output=output or DEFAULT_OUTPUT, dispatch=dispatch,
                             concurrency=concurrency, as_json=as_json, insecure=insecure,
                             sarif=sarif, vsa=vsa, vsa_key=vsa_key, attach=attach)


def register(app: typer.Typer) -> None:
    from clamp.cli.registry_flags import with_registry_flags

    app.command("verify")(with_registry_flags(verify))
