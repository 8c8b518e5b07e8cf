"""`clamp sign --image REF --key PRIV`: sign an image as `cosign sign --key` does.

For users who mirror unsigned upstream images (the ROCm images on Docker Hub carry no
signatures) and sign their mirror. Pushes a legacy `.sig` signature, and with --bundle-format a
sigstore v0.3 bundle referrer as well. No transparency log is written (clamp never contacts a
log), so verify such signatures with `tlog: optional` / `--insecure-ignore-tlog`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from clamp.cli.common import INSECURE_OPTION


def sign(
    image: str = typer.Option(..., "--image", "-i", help="Image to sign (tag or digest)."),
    key: Path = typer.Option(..., "--key", help="cosign.key (encrypted private key)."),
    bundle_format: bool = typer.Option(False, "--bundle-format",
                                       help="Also push a v0.3 bundle as an OCI referrer."),
    platform: str | None = typer.Option(None, "--platform",
                                        help="Sign this platform's manifest of an index too."),
    insecure: list[str] = INSECURE_OPTION,
) -> int:
    """Sign IMAGE's digest with KEY and push the signature next to it.

    No transparency-log entry is written (clamp never contacts a log): verification requires
    one by default, so verify these signatures with `clamp verify --key PUB
    --insecure-ignore-tlog` or a matrix trust entry with `tlog: optional`.
    """
    from clamp.cli.aio import run as run_async
    from clamp.cli.common import client_options
    from clamp.cli.output import info
    from clamp.cli.trust_flags import password, read_file
    from clamp.errors import BadInputError
    from clamp.oci.manifest import Platform
    from clamp.oci.store import Stores, parse_image_ref
    from clamp.signed.sign import sign_and_push
    from clamp.trust.keyfile import decrypt_private_key

    ref = parse_image_ref(image, where="--image")
    private = decrypt_private_key(read_file(key, "private key", 64 * 1024), password(confirm=False),
                                  where=str(key))
    try:
        plat = Platform.parse(platform) if platform else None
    except ValueError as exc:
        raise BadInputError(str(exc), where="--platform") from None

    async def run() -> list[str]:
        async with Stores(client_options(insecure, registries={ref.location})) as stores:
            return await sign_and_push(stores.open(ref), ref, private, platform=plat,
                                       bundle=bundle_format)

    for line in run_async(run()):
        info(line)
    return 0


def register(app: typer.Typer) -> None:
    from clamp.cli.registry_flags import with_registry_flags

    app.command("sign")(with_registry_flags(sign))
