"""Red team 13: a single-value flag given twice. click kept the last occurrence and dropped the
others silently, so a wrapper that pins `--certificate-identity-regexp '^https://github\\.com/
ROCm/'` and then appends its caller's words (`... --certificate-identity-regexp '.*'`) verified
an image signed by anyone. Now every single-value option given twice is a usage error (exit 64,
one line naming it) on every command, before any registry is asked. Repeatable flags keep their
documented meaning (`--key`: any one may verify). Real registry, real keyless signatures."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from clamp.digest import parse_digest
from clamp.oci.reference import parse_reference
from clamp.oci.store import Stores
from clamp.signed.attach import push_legacy_signature
from clamp.trust.pki import TestSigstore, keyless_sign_image
from tests.support.pushing import RegistryPusher, push_image
from tests.support.registry import RegistryHandle

EVIL = "https://github.com/evil/fork/.github/workflows/x.yml@refs/heads/main"
ISSUER = "https://token.actions.githubusercontent.com"
TRUSTED = r"^https://github\.com/ROCm/"
ROOT = Path(__file__).resolve().parents[2]


def _clamp(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        code = invoke(app, list(args), prog_name="clamp")
    return code, err.getvalue()


@pytest.fixture
def evil_image(registry: RegistryHandle, repo_name: str, pki: TestSigstore,
               make_pusher: Callable[..., RegistryPusher]) -> str:
    """An image keyless-signed (with a log entry) by an identity nobody trusts."""
    pushed = push_image(make_pusher(registry), repo_name, "t")
    name = f"{registry.host}/{repo_name}"
    layer = keyless_sign_image(pki, pushed.digest, name, identity=EVIL, issuer=ISSUER)

    async def push() -> None:
        async with Stores() as stores:
            store = stores.open(parse_reference(f"{name}:t"))
            await push_legacy_signature(store, repo_name, parse_digest(pushed.digest),
                                        layer.payload, dict(layer.annotations))

    asyncio.run(push())
    return f"{name}:t"


@pytest.mark.parametrize("spelling", [
    ("--certificate-identity-regexp", TRUSTED, "--certificate-identity-regexp", ".*"),
    (f"--certificate-identity-regexp={TRUSTED}", "--certificate-identity-regexp=.*"),
    ("--certificate-identity-regexp", TRUSTED, "--certificate-identity-regexp=", ),
])
def test_a_second_identity_regexp_is_refused_not_obeyed(evil_image: str, root_file: Path,
                                                        spelling: tuple[str, ...]) -> None:
    code, err = _clamp("verify", evil_image, "--trusted-root", str(root_file),
                       "--certificate-oidc-issuer", ISSUER, *spelling)
    assert code == 64, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "--certificate-identity-regexp given 2 times" in lines[0], err
    # Honest twin: the pinned pattern alone decides, and refuses the evil signer (5).
    code, err = _clamp("verify", evil_image, "--trusted-root", str(root_file),
                       "--certificate-oidc-issuer", ISSUER, "--certificate-identity-regexp",
                       TRUSTED)
    assert code == 5, err


@pytest.mark.parametrize("args", [
    ["resolve", "-m", "{m}", "--matrix", "{m}"], ["resolve", "-m", "{m}", "--os", "a", "--os=b"],
    ["verify", "--matrix", "{m}", "-o", "a.json", "--output", "b.json"],
    ["update", "-m", "{m}", "--pr-body", "a.md", "--pr-body", "b.md"],
    ["verify", "x:1", "--trusted-root", "a", "--trusted-root", "b"],
    ["verify", "x:1", "--registry-token", "a", "--registry-token", "b"],
    ["matrix", "migrate", "{m}", "-o", "a.yml", "-o", "b.yml"]])
def test_every_command_refuses_a_repeated_single_value_flag(args: list[str]) -> None:
    code, err = _clamp(*[a.replace("{m}", str(ROOT / "examples" / "rocm_matrix.yml"))
                         for a in args])
    assert code == 64 and "given 2 times" in err and len(err.strip().splitlines()) == 1, err
    named = err.split(" given")[0].split()[-1]
    assert named.startswith("--") and any(a.split("=")[0] in (named, "-o", "-m") for a in args)


def test_repeatable_flags_keep_their_meaning(tmp_path: Path) -> None:
    """`--key a --key b` (any one may verify, as documented), `--image` twice, and a boolean
    flag twice are not refused: the run reaches the registry (an unreachable one: 69)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from clamp.trust.keys import PublicKey

    keys = []
    for name in ("a.pub", "b.pub"):
        keys += ["--key", str(tmp_path / name)]
        (tmp_path / name).write_bytes(
            PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CLAMP_RETRY_ATTEMPTS", "1")
        env.setenv("CLAMP_RETRY_MAX_WAIT", "0")
        code, err = _clamp("verify", "--image", "127.0.0.1:9/r/x:1", "--image",
                           "127.0.0.1:9/r/y:1", *keys, "--json", "--json")
    assert code == 69 and "given" not in err, err


@pytest.mark.parametrize("flags", [
    ["--certificate-identity-regexp=", "--certificate-oidc-issuer", ISSUER],
    ["--certificate-identity-regexp", " ", "--certificate-oidc-issuer", ISSUER],
    ["--certificate-identity-regexp", ".*", "--certificate-oidc-issuer-regexp="],
    ["--certificate-identity=", "--certificate-oidc-issuer", ISSUER],
    ["--certificate-identity-regexp", ".*", "--certificate-oidc-issuer="]])
def test_an_empty_identity_or_issuer_flag_is_bad_input(evil_image: str, root_file: Path,
                                                       flags: list[str]) -> None:
    """An empty *unanchored regexp* matches every identity: `--certificate-identity-regexp=
    "$PATTERN"` with PATTERN unset verified an image signed by anyone (exit 0). cosign reads
    an empty flag as not given; clamp refuses it (64), as it does empty claim flags."""
    code, err = _clamp("verify", evil_image, "--trusted-root", str(root_file), *flags)
    assert code == 64 and "needs a value (it was empty)" in err, err
    # Honest twin: a pattern that says something decides (the evil signer: 5).
    code, err = _clamp("verify", evil_image, "--trusted-root", str(root_file),
                       "--certificate-identity-regexp", TRUSTED, "--certificate-oidc-issuer-regexp",
                       r"^https://token\.actions\.githubusercontent\.com$")
    assert code == 5, err
