"""All sigstore-conformance bundle-verify cases through `clamp verify-blob` (in-process).

A case passes when the exit code matches its name: `_fail` cases must be rejected (non-zero,
never an internal error), every other case must verify (exit 0).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from clamp.exitcodes import ExitCode

DEFAULT_IDENTITY = ("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-"
                    "beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main")
DEFAULT_ISSUER = "https://token.actions.githubusercontent.com"


def _base() -> Path:
    env = os.environ.get("CLAMP_CONFORMANCE_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "conformance"
    return root / "sigstore-bundle-verify" if (root / "sigstore-bundle-verify").is_dir() else root


BASE = _base()
CASES = sorted(p.name for p in BASE.iterdir() if p.is_dir()) if BASE.is_dir() else []


def case_argv(case: Path) -> list[str]:
    artifact = case / "artifact" if (case / "artifact").exists() else case.parent / "a.txt"
    argv = ["verify-blob", "--bundle", str(case / "bundle.sigstore.json")]
    if (case / "key.pub").exists():
        argv += ["--key", str(case / "key.pub")]
    else:
        identity = ((case / "identity").read_text().strip() if (case / "identity").exists()
                    else DEFAULT_IDENTITY)
        issuer = ((case / "issuer").read_text().strip() if (case / "issuer").exists()
                  else DEFAULT_ISSUER)
        argv += ["--certificate-identity", identity, "--certificate-oidc-issuer", issuer]
    if (case / "trusted_root.json").exists():
        argv += ["--trusted-root", str(case / "trusted_root.json")]
    return [*argv, str(artifact)]


@pytest.mark.skipif(not CASES, reason=f"conformance data not found at {BASE} "
                    "(set CLAMP_CONFORMANCE_DIR)")
def test_case_count() -> None:
    assert len(CASES) == 70


@pytest.mark.skipif(not CASES, reason=f"conformance data not found at {BASE} "
                    "(set CLAMP_CONFORMANCE_DIR)")
@pytest.mark.parametrize("name", CASES)
def test_bundle_verify_conformance(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = invoke(app, case_argv(BASE / name), prog_name="clamp")
    err = capsys.readouterr().err
    assert code != ExitCode.INTERNAL_ERROR, err
    if name.endswith("_fail"):
        assert code != 0, f"{name} verified but must be rejected"
        assert "check " in err or "error:" in err
    else:
        assert code == 0, f"{name}: {err}"
