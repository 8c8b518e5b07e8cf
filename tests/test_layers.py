"""The rooms and their arrows (docs/architecture.md), enforced: import-linter's contracts in
pyproject.toml, run over grimp's graph of every import clamp makes (module level, inside a
function, under `if TYPE_CHECKING:`).

Each forbidden arrow is also proved to be caught: a copy of the package with one import added
along that arrow must break the contract that names it, while the unchanged copy keeps them all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"
SRC = ROOT / "src" / "clamp"

# Run in a child process: grimp finds `clamp` on sys.path, which for the mutated copies must be
# the copy, not the package this test process has already imported.
_LINT = ("import sys\nfrom importlinter.cli import lint_imports\n"
         "sys.exit(lint_imports(config_filename=sys.argv[1],"
         " limit_to_contracts=tuple(sys.argv[2:]), no_cache=True))\n")


def _lint(path_entry: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(path_entry), "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-c", _LINT, str(CONFIG), *contracts], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_every_contract_is_kept() -> None:
    done = _lint(ROOT / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_exit_code_contract_has_no_exceptions() -> None:
    """Exit codes are decided in the face with no exception left (issue #16): lower rooms raise
    errors with a kind and return typed outcomes, clamp.exitcodes maps them. An
    `ignore_imports` here would let a lower room name a code again unseen."""
    import tomllib

    config = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["id"] == "exit-codes")
    assert "ignore_imports" not in contract
    assert "unmatched_ignore_imports_alerting" not in contract
    assert contract["forbidden_modules"] == ["clamp.exitcodes"]


TYPE_CHECKING_IMPORT = ("from typing import TYPE_CHECKING\n"
                        "if TYPE_CHECKING:\n    from {module} import {name}  # noqa\n")
LOCAL_IMPORT = "def _forbidden() -> None:\n    from {module} import {name}  # noqa\n"
MODULE_IMPORT = "from {module} import {name}  # noqa\n"

# (file that gains the import, the import's form, module, name, the contract that must break)
ARROWS = [
    ("trust/kinds.py", MODULE_IMPORT, "clamp.oci.manifest", "Manifest", "trust-oci"),
    ("oci/manifest.py", TYPE_CHECKING_IMPORT, "clamp.trust.result", "VerificationResult",
     "trust-oci"),
    ("oci/reference.py", LOCAL_IMPORT, "clamp.signed.locate", "sig_tag", "below-signed"),
    ("trust/policy.py", LOCAL_IMPORT, "clamp.signed.image", "verify_image", "below-signed"),
    ("matrix/select.py", TYPE_CHECKING_IMPORT, "clamp.oci.reference", "Reference",
     "matrix-oci"),
    ("oci/store.py", LOCAL_IMPORT, "clamp.matrix", "load", "matrix-oci"),
    ("signed/locate.py", LOCAL_IMPORT, "clamp.verify.policy", "EntryTrust", "signed-verify"),
    ("verify/entry.py", MODULE_IMPORT, "clamp.update.report", "PinState", "verify-update"),
    ("telemetry/stats.py", LOCAL_IMPORT, "clamp.trust.result", "VerificationResult",
     "telemetry"),
    ("telemetry/models.py", TYPE_CHECKING_IMPORT, "clamp.signed.locate", "SignatureSet",
     "telemetry"),
    ("telemetry/stats.py", LOCAL_IMPORT, "clamp.update.report", "PinState", "telemetry"),
    ("verify/decision.py", LOCAL_IMPORT, "clamp.cli.output", "Output", "face"),
    ("digest.py", LOCAL_IMPORT, "clamp.demo.scenario", "run", "face"),
    ("signed/image.py", MODULE_IMPORT, "clamp.exitcodes", "ExitCode", "exit-codes"),
    # the rooms that named codes until issue #16: an error class, a run, a decision
    ("errors.py", LOCAL_IMPORT, "clamp.exitcodes", "ExitCode", "exit-codes"),
    ("trust/errors.py", TYPE_CHECKING_IMPORT, "clamp.exitcodes", "ExitCode", "exit-codes"),
    ("update/run.py", MODULE_IMPORT, "clamp.exitcodes", "for_update", "exit-codes"),
    ("verify/decision.py", LOCAL_IMPORT, "clamp.exitcodes", "for_matrix", "exit-codes"),
    ("trust/keys.py", LOCAL_IMPORT, "clamp.verify.policy", "EntryTrust", "rooms"),
    ("errors.py", TYPE_CHECKING_IMPORT, "clamp.oci.reference", "Reference", "rooms"),
]


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine copy of src/clamp (each test below adds one import to a copy of it)."""
    base = tmp_path_factory.mktemp("pristine")
    shutil.copytree(SRC, base / "clamp", ignore=shutil.ignore_patterns("__pycache__"))
    honest = _lint(base)  # the copy, unchanged, keeps every contract
    assert honest.returncode == 0, honest.stdout + honest.stderr
    return base


@pytest.mark.parametrize(("target", "form", "module", "name", "contract"), ARROWS,
                         ids=[f"{a[4]}:{a[0]}->{a[2]}" for a in ARROWS])
def test_an_import_along_a_forbidden_arrow_breaks_its_contract(
        package_copy: Path, tmp_path: Path, target: str, form: str, module: str, name: str,
        contract: str) -> None:
    shutil.copytree(package_copy / "clamp", tmp_path / "clamp")
    path = tmp_path / "clamp" / target
    path.write_text(path.read_text() + "\n\n" + form.format(module=module, name=name))
    broken = _lint(tmp_path, contract)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "BROKEN" in broken.stdout
    assert module in broken.stdout  # the report names the import that broke it
