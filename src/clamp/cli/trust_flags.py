"""cosign's verification flags turned into a `clamp.trust` policy, shared by the verify commands.

Flag names are cosign's so users' habits carry over; the identity regexps keep cosign's
unanchored meaning (re.search) on the command line, and the help says to anchor them. The
`--certificate-github-workflow-*` claims are compared exactly, from the same legacy Fulcio
extensions cosign reads (`clamp.trust.claims`); each needs an identity to belong to.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from clamp.trust.policy import Policy

MAX_KEY_FILE = 64 * 1024

KEY_OPTION = typer.Option([], "--key", metavar="PATH",
                          help="PEM public key (repeatable; any one may verify).")
IDENTITY_OPTION = typer.Option(None, "--certificate-identity",
                               help="Exact certificate identity (SAN) of a keyless signer.")
IDENTITY_REGEXP_OPTION = typer.Option(
    None, "--certificate-identity-regexp",
    help="Regexp for the identity, unanchored as cosign's: anchor it with ^...$.")
ISSUER_OPTION = typer.Option(None, "--certificate-oidc-issuer", help="Exact OIDC issuer.")
ISSUER_REGEXP_OPTION = typer.Option(None, "--certificate-oidc-issuer-regexp",
                                    help="Regexp for the OIDC issuer (unanchored).")

def _claim_option(what: str, claim: str, example: str) -> Any:
    return typer.Option(None, f"--certificate-github-workflow-{what}", metavar="TEXT",
                        help=f"The GitHub workflow {claim} the certificate must carry, exactly "
                        f"(Fulcio's legacy extension, as cosign; e.g. {example}).")


WORKFLOW_TRIGGER_OPTION = _claim_option("trigger", "trigger (event)", "push")
WORKFLOW_SHA_OPTION = _claim_option("sha", "commit SHA", "the 40-hex commit")
WORKFLOW_NAME_OPTION = _claim_option("name", "name", "Release")
WORKFLOW_REPOSITORY_OPTION = _claim_option("repository", "repository", "ROCm/rocm-images")
WORKFLOW_REF_OPTION = _claim_option("ref", "git ref", "refs/tags/v1")
#: The flags above, in the order of `policy_from_flags(claims=...)`'s claims.
GITHUB_CLAIM_FLAGS = tuple(f"--certificate-github-workflow-{w}"
                           for w in ("trigger", "sha", "name", "repository", "ref"))
TRUSTED_ROOT_OPTION = typer.Option(None, "--trusted-root",
                                   help="trusted_root.json replacing the shipped public-good one.")
IGNORE_TLOG_FLAG = "--insecure-ignore-tlog"
INSECURE_IGNORE_TLOG_OPTION = typer.Option(
    False, IGNORE_TLOG_FLAG,
    help="Accept signatures without a transparency-log entry (cosign's flag; also "
    f"{IGNORE_TLOG_FLAG}=true). A log entry is required by default, with --key too; `clamp "
    "sign` writes none.")
# Accepted for scripts written before the log became required by default; it changes nothing.
REQUIRE_TLOG_OPTION = typer.Option(False, "--require-tlog", hidden=True,
                                   help="The default: a transparency-log entry is required.")


def tlog_required(insecure_ignore_tlog: bool, require_tlog: bool) -> bool:
    """True unless `--insecure-ignore-tlog`; both flags at once is a contradiction (exit 64)."""
    if insecure_ignore_tlog and require_tlog:
        from clamp.errors import BadInputError

        raise BadInputError(f"give {IGNORE_TLOG_FLAG} or --require-tlog, not both")
    return not insecure_ignore_tlog


#: The values Go's strconv.ParseBool (and so cosign's pflag boolean flags) accepts.
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def normalize_tlog_flag(args: list[str]) -> list[str]:
    """cosign spells the opt-out `--insecure-ignore-tlog=true`; click's boolean flags take no
    value, so the flag's occurrences (before `--` only) become one bare flag or none. As in
    cosign (pflag), the last occurrence decides: `--insecure-ignore-tlog
    --insecure-ignore-tlog=false` requires the log, as cosign would, rather than skipping it
    because the flag appeared once. A value Go's ParseBool would not take is left for click to
    refuse as a usage error (exit 64)."""
    out: list[str] = []
    last: tuple[int, bool] | None = None  # where the last occurrence was, and its value
    end = len(args)
    for index, arg in enumerate(args):
        if arg == "--":
            end = index
            break
        name, eq, value = arg.partition("=")
        if name == IGNORE_TLOG_FLAG and (not eq or value in _GO_TRUE | _GO_FALSE):
            last = (len(out), not eq or value in _GO_TRUE)
            continue
        out.append(arg)
    if last is not None and last[1]:
        out.insert(last[0], IGNORE_TLOG_FLAG)  # where the deciding occurrence stood
    return out + args[end:]


def read_file(path: Path, what: str, limit: int | None = None) -> bytes:
    """Read a user-named file, bounded, turning OS errors into one-line BadInputErrors."""
    from clamp.errors import BadInputError
    from clamp.files import read_at_most

    try:
        if limit is None:
            return path.read_bytes()
        data = read_at_most(path, limit)
        if len(data) > limit:
            raise BadInputError(f"{what} larger than {limit} bytes", where=str(path))
        return data
    except OSError as exc:
        raise BadInputError(f"cannot read {what}: {exc.strerror}", where=str(path)) from None


def github_claims(trigger: str | None, sha: str | None, name: str | None,
                  repository: str | None, ref: str | None) -> tuple[tuple[str, str], ...]:
    """The `--certificate-github-workflow-*` values given, as `(claim name, value)` pairs; an
    empty value is refused (cosign would ignore it, and so silently require nothing)."""
    from clamp.errors import BadInputError

    given = tuple((f"github_workflow_{what}", value) for what, value in (
        ("trigger", trigger), ("sha", sha), ("name", name), ("repository", repository),
        ("ref", ref)) if value is not None)
    for claim, value in given:
        if not value.strip():
            raise BadInputError(f"--certificate-{claim.replace('_', '-')} needs a value")
    return given


def policy_from_flags(keys: list[Path], identity: str | None, identity_regexp: str | None,
                      issuer: str | None, issuer_regexp: str | None,
                      trusted_root: Path | None, require_tlog: bool = True, *,
                      claims: tuple[tuple[str, str], ...] = ()) -> Policy:
    """The policy cosign's flags describe: any key, or the one identity (with `claims`)."""
    from clamp.errors import BadInputError
    from clamp.trust.keys import load_public_key
    from clamp.trust.policy import Identity, Policy

    for flag, value in (("--certificate-identity", identity),
                        ("--certificate-identity-regexp", identity_regexp),
                        ("--certificate-oidc-issuer", issuer),
                        ("--certificate-oidc-issuer-regexp", issuer_regexp)):
        if value is not None and not value.strip():
            # cosign reads an empty flag as not given; an empty *unanchored regexp* matches
            # every identity, so `--certificate-identity-regexp="$UNSET"` trusted anyone.
            raise BadInputError(f"{flag} needs a value (it was empty)")
    keyless = bool(identity or identity_regexp or issuer or issuer_regexp)
    if claims and not keyless:
        raise BadInputError("--certificate-github-workflow-* describe a keyless signer: give "
                            "them with --certificate-identity[-regexp] and "
                            "--certificate-oidc-issuer[-regexp]")
    loaded = tuple(load_public_key(read_file(k, "key", MAX_KEY_FILE), where=str(k)) for k in keys)
    identities: tuple[Identity, ...] = ()
    if keyless:
        identities = (Identity(subject=identity, subject_regexp=identity_regexp,
                               issuer=issuer, issuer_regexp=issuer_regexp, claims=claims),)
    if not loaded and not identities:
        raise BadInputError("give --key, or --certificate-identity[-regexp] with "
                            "--certificate-oidc-issuer[-regexp]")
    if trusted_root is None:
        return Policy(keys=loaded, identities=identities, require_tlog=require_tlog)
    if not trusted_root.is_file():
        raise BadInputError("trusted root is not a regular file" if trusted_root.exists()
                            else "trusted root file not found", where=str(trusted_root))
    # Loaded now: a root that cannot be used is the user's bad input (exit 64), found before any
    # registry is asked, rather than a verification error per image later.
    from clamp.trust.errors import TrustInputError
    from clamp.trust.root import load_trusted_root

    try:
        root = load_trusted_root(trusted_root)
    except TrustInputError as exc:
        raise BadInputError(f"unusable trusted root: {exc.reason}",
                            where=str(trusted_root)) from None
    return Policy(_root=root, keys=loaded, identities=identities, require_tlog=require_tlog,
                  trusted_root_path=str(trusted_root))


def password(*, confirm: bool) -> bytes:
    """The private key password: CLAMP_PASSWORD, COSIGN_PASSWORD, else a hidden prompt.

    The variable's bytes are used as they are, as cosign's Go does (a password that is not
    UTF-8 is still a password). Without either variable and without a terminal to ask on (CI),
    there is no password to be had: bad input, said before anything is prompted.
    """
    import sys

    for name in (b"CLAMP_PASSWORD", b"COSIGN_PASSWORD"):
        if name in os.environb:
            return os.environb[name]
    from clamp.errors import BadInputError

    if not sys.stdin.isatty():
        raise BadInputError("no password: set CLAMP_PASSWORD (or COSIGN_PASSWORD), or run in a "
                            "terminal to be asked")
    first = typer.prompt("Enter password for private key", hide_input=True, default="",
                         show_default=False)
    if confirm:
        second = typer.prompt("Enter password for private key again", hide_input=True,
                              default="", show_default=False)
        if first != second:
            raise BadInputError("passwords do not match")
    return str(first).encode("utf-8", "surrogateescape")  # typed bytes, as the variables
