"""`clamp keygen`: write a cosign-compatible key pair (cosign.key encrypted, cosign.pub).

The password comes from CLAMP_PASSWORD (or COSIGN_PASSWORD, so existing CI secrets work), else
from a hidden prompt asked twice. Existing files are never overwritten.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from clamp.cli.trust_flags import password


def register(app: typer.Typer) -> None:
    app.command("keygen")(keygen)


def keygen(
    output_prefix: str = typer.Option("cosign", "--output-prefix",
                                      help="Write PREFIX.key and PREFIX.pub."),
) -> int:
    """Generate an ECDSA P-256 key pair in cosign's format."""
    from clamp.atomic import write_atomic
    from clamp.cli.output import info
    from clamp.errors import BadInputError
    from clamp.trust.keyfile import generate_key_pair

    if not output_prefix.strip() or output_prefix.endswith(("/", os.sep)) \
            or Path(output_prefix).name in ("", ".", ".."):
        # `--output-prefix=` (or `keys/`) wrote the pair as the hidden files `.key`/`.pub`.
        raise BadInputError("--output-prefix names no file: give a name, such as 'cosign' or "
                            "'keys/mirror'", where=repr(output_prefix))
    private_path, public_path = Path(f"{output_prefix}.key"), Path(f"{output_prefix}.pub")
    for path in (private_path, public_path):
        try:
            os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as exc:  # a name past the OS's limit: found before asking for a password
            raise BadInputError(f"cannot write: {exc.strerror}", where=str(path)) from None
        raise BadInputError("already exists; refusing to overwrite", where=str(path))
    private_pem, public_pem = generate_key_pair(password(confirm=True))
    # A pair: a public key whose write fails takes its new private key with it, so a failed
    # run leaves neither (and the next run is not refused by a half pair).
    write_atomic(private_path, private_pem, mode=0o600)
    try:
        write_atomic(public_path, public_pem)
    except BaseException:
        private_path.unlink(missing_ok=True)
        raise
    info(f"Private key written to {private_path}\nPublic key written to {public_path}")
    return 0
