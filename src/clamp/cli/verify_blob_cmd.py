"""`clamp verify-blob`: verify a sigstore bundle over a file, with cosign's flag names.

Exit 0 only when the bundle verifies; otherwise the exit code says why (UNSIGNED,
SIGNATURE_FAILED, IDENTITY_MISMATCH, BAD_INPUT) and one line names the failed check.
"""

from __future__ import annotations

from pathlib import Path

import typer

MAX_BUNDLE_FILE = 16 * 1024 * 1024


def register(app: typer.Typer) -> None:
    app.command("verify-blob")(verify_blob)


def verify_blob(
    artifact: Path = typer.Argument(..., help="The signed file (for DSSE: the statement subject)."),
    bundle: Path = typer.Option(..., "--bundle", help="Sigstore bundle JSON file."),
    key: Path | None = typer.Option(None, "--key", help="PEM public key (key mode)."),
    identity: str | None = typer.Option(None, "--certificate-identity"),
    identity_regexp: str | None = typer.Option(
        None, "--certificate-identity-regexp",
        help="Unanchored regexp (re.search), as cosign's: anchor it with ^...$."),
    issuer: str | None = typer.Option(None, "--certificate-oidc-issuer"),
    issuer_regexp: str | None = typer.Option(None, "--certificate-oidc-issuer-regexp"),
    trusted_root: Path | None = typer.Option(None, "--trusted-root",
                                             help="trusted_root.json replacing the shipped one."),
    require_tlog: bool = typer.Option(False, "--require-tlog",
                                      help="Require transparency-log evidence with --key."),
    as_json: bool = typer.Option(False, "--json", help="Print the result model as JSON."),
) -> int:
    """Verify a sigstore bundle (v0.1-v0.3) over ARTIFACT, offline."""
    from clamp.cli.output import info
    from clamp.errors import BadInputError
    from clamp.trust.bundle import Artifact, verify_bundle
    from clamp.trust.errors import TrustError
    from clamp.trust.keys import load_public_key
    from clamp.trust.policy import Identity, Policy
    from clamp.trust.result import failure

    def read(path: Path, what: str, limit: int | None = None) -> bytes:
        try:
            if limit is not None and path.stat().st_size > limit:
                raise BadInputError(f"{what} larger than {limit} bytes", where=str(path))
            return path.read_bytes()
        except OSError as exc:
            raise BadInputError(f"cannot read {what}: {exc.strerror}", where=str(path)) from exc

    keys = (load_public_key(read(key, "key", 64 * 1024), where=str(key)),) if key else ()
    identities: tuple[Identity, ...] = ()
    if identity or identity_regexp or issuer or issuer_regexp:
        identities = (Identity(subject=identity, subject_regexp=identity_regexp,
                               issuer=issuer, issuer_regexp=issuer_regexp),)
    if not keys and not identities:
        raise BadInputError("give --key, or --certificate-identity[-regexp] with "
                            "--certificate-oidc-issuer[-regexp]")
    policy = Policy(keys=keys, identities=identities, require_tlog=require_tlog,
                    trusted_root_path=str(trusted_root) if trusted_root else None)
    bundle_bytes = read(bundle, "bundle", MAX_BUNDLE_FILE)
    try:
        result = verify_bundle(bundle_bytes, Artifact.from_bytes(read(artifact, "artifact")),
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
