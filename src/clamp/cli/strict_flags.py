"""A single-value option given more than once is a usage error (exit 64), on every command.

Why: click (like cosign's pflag) keeps the last occurrence and drops the others without a word,
so `clamp verify IMG --certificate-identity-regexp '^https://github\\.com/ROCm/' ...
--certificate-identity-regexp '.*'` trusted every signer: a wrapper script or action that puts
its own pinned flag first and appends a caller's arguments lost its pin to whatever came later.
A gate cannot tell which of two values was meant, so it refuses both. Options documented as
repeatable (`--key`: any one may verify; `--image`, `--insecure-registry`,
`--attestation-type`) and boolean flags are left alone; `--insecure-ignore-tlog[=BOOL]` keeps
cosign's "the last occurrence decides" (clamp.cli.trust_flags.normalize_tlog_flag).
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def refuse_repeats(command: Any) -> Any:
    """`command` (a click command or group, as typer built it) with every leaf command's
    argument parsing checked for repeated single-value options first."""
    from typer.core import TyperGroup

    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            refuse_repeats(sub)
        return command
    original = command.parse_args

    def parse_args(ctx: Any, args: list[str]) -> Any:
        repeated = _repeated(command, ctx, args)
        if repeated is not None:
            from typer._click import exceptions  # type: ignore[import-not-found,unused-ignore]

            name, times = repeated
            raise exceptions.UsageError(
                f"{name} given {times} times: it takes one value (a later one would silently "
                "replace the earlier); give it once", ctx=ctx)
        return original(ctx, args)

    command.parse_args = parse_args
    return command


def _repeated(command: Any, ctx: Any, args: list[str]) -> tuple[str, int] | None:
    """The first single-value option `args` give more than once, and how many times; None if
    none is (or the arguments do not parse: the command's own parsing says why)."""
    from typer._click import exceptions  # type: ignore[import-not-found,unused-ignore]
    from typer.core import TyperOption

    try:
        _, _, order = command.make_parser(ctx).parse_args(args=list(args))
    except exceptions.UsageError:
        return None
    counts = Counter(id(param) for param in order)
    for param in order:
        single = (isinstance(param, TyperOption) and not param.multiple and not param.count
                  and not param.is_flag)
        if single and counts[id(param)] > 1:
            return max(param.opts, key=len), counts[id(param)]
    return None
