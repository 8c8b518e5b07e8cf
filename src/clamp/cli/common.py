"""Options and helpers shared by several commands (matrix loading, registry options, JSON)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from clamp.location import Location
    from clamp.matrix import LoadedMatrix
    from clamp.oci.pool import ClientOptions

MATRIX_OPTION = typer.Option(..., "--matrix", "-m", help="The matrix file (native or original "
                             "layout).", show_default=False)
INSECURE_OPTION = typer.Option([], "--insecure-registry", metavar="HOST",
                               help="Allow plain HTTP to this registry host (repeatable; also "
                               "CLAMP_INSECURE_REGISTRIES).")


def load_matrix(path: Path) -> LoadedMatrix:
    """Load a matrix and print its warnings (unpinned placeholders...) to stderr."""
    from clamp.cli.output import warn
    from clamp.matrix import load

    loaded = load(path)
    for message in loaded.warnings:
        warn(message)
    return loaded


def matrix_inputs(loaded: LoadedMatrix) -> list[tuple[str, Path]]:
    """The files a matrix command reads: no output of it may overwrite one
    (`clamp.atomic.check_outputs`): the matrix, its policy file, its trusted roots, its keys."""
    inputs = [("the matrix", loaded.path)]
    if loaded.policy_path is not None:
        inputs.append(("the matrix's policy file", loaded.policy_path))
    for name, policy in loaded.model.trust.items():
        if policy.resolved_trusted_root is not None:
            inputs.append((f"trust {name}'s trusted root", policy.resolved_trusted_root))
        inputs += [(f"trust {name}'s key", key.resolved_path) for key in policy.keys
                   if key.resolved_path is not None]
    return inputs


def client_options(insecure: list[str], concurrency: int | None = None, *,
                   registries: Iterable[Location] = ()) -> ClientOptions:
    """Registry options; `concurrency` (images or entries at a time) also raises the number of
    requests in flight, since one image may have two requests out at once (its `.sig` and its
    referrers). `registries` are the locations the command's images are in: the `--registry-*`
    flags' credentials are bound to them (clamp.cli.registry_flags)."""
    from clamp.cli.registry_flags import flag_credentials
    from clamp.oci.pool import DEFAULT_IN_FLIGHT, ClientOptions

    credentials = flag_credentials(registries)
    if concurrency is None:
        return ClientOptions.from_env(insecure=insecure, credentials=credentials)
    return ClientOptions.from_env(insecure=insecure, credentials=credentials,
                                  max_concurrency=max(DEFAULT_IN_FLIGHT, 2 * concurrency))


def matrix_registries(loaded: LoadedMatrix) -> set[Location]:
    """The locations (registries, layouts) a matrix's entries are in."""
    from clamp.matrix.select import image_ref
    from clamp.oci.store import parse_image_ref

    return {parse_image_ref(image_ref(loaded.model, e).tag_reference).location
            for e in loaded.model.images}


def concurrency_option(what: str) -> Any:
    """`--concurrency N` (`what` happens N at a time); the requests in flight it allows are
    `client_options`' rule (32 is clamp.oci.pool.DEFAULT_IN_FLIGHT, not imported here so that
    building the CLI does not load httpx)."""
    return typer.Option(16, "--concurrency", min=1, max=256, metavar="N",
                        help=f"{what} (requests in flight: twice this, at least 32).")


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")
