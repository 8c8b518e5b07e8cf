"""`clamp verify-blob`: verify a sigstore bundle over a file, with cosign's flag names.

Exit 0 only when the bundle verifies; otherwise the exit code says why (UNSIGNED,
SIGNATURE_FAILED, IDENTITY_MISMATCH, BAD_INPUT) and one line names the failed check.
"""

from __future__ import annotations

from pathlib import Path

import typer

from clamp.cli.trust_flags import (
    IDENTITY_OPTION,
    IDENTITY_REGEXP_OPTION,
    INSECURE_IGNORE_TLOG_OPTION,
    ISSUER_OPTION,
    ISSUER_REGEXP_OPTION,
    REQUIRE_TLOG_OPTION,
    TRUSTED_ROOT_OPTION,
    WORKFLOW_NAME_OPTION,
    WORKFLOW_REF_OPTION,
    WORKFLOW_REPOSITORY_OPTION,
    WORKFLOW_SHA_OPTION,
    WORKFLOW_TRIGGER_OPTION,
    github_claims,
    policy_from_flags,
    read_file,
    tlog_required,
)

MAX_BUNDLE_FILE = 16 * 1024 * 1024


def register(app: typer.Typer) -> None:
    app.command("verify-blob")(verify_blob)


def verify_blob(
    artifact: Path = typer.Argument(..., help="The signed file (for DSSE: the statement subject)."),
    bundle: Path = typer.Option(..., "--bundle", help="Sigstore bundle JSON file."),
    key: Path | None = typer.Option(None, "--key", help="PEM public key (key mode)."),
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
    as_json: bool = typer.Option(False, "--json", help="Print the result model as JSON."),
) -> int:
    """Verify a sigstore bundle (v0.1-v0.3) over ARTIFACT, offline."""
    from clamp.cli.output import info
    from clamp.trust.bundle import Artifact, verify_bundle
    from clamp.trust.errors import TrustError
    from clamp.trust.result import failure

    policy = policy_from_flags([key] if key else [], identity, identity_regexp, issuer,
                               issuer_regexp, trusted_root,
                               tlog_required(insecure_ignore_tlog, require_tlog),
                               claims=github_claims(
                                   github_workflow_trigger, github_workflow_sha,
                                   github_workflow_name, github_workflow_repository,
                                   github_workflow_ref))
    bundle_bytes = read_file(bundle, "bundle", MAX_BUNDLE_FILE)
    try:
        result = verify_bundle(bundle_bytes, Artifact.from_bytes(read_file(artifact, "artifact")),
                               policy)
    except TrustError as exc:
        if as_json:
            print(failure(exc).model_dump_json(indent=2))
        raise
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        who = (result.signer.identity or result.signer.key_fingerprint) if result.signer else "?"
        info(f"verified: {artifact} signed by {who}"
             + (f" ({result.signer.issuer})" if result.signer and result.signer.issuer else ""))
    return 0
