"""The release as a user gets it: `python -m build`, the wheel in a clean venv, the demo run
from a directory that is not the checkout.

Building needs setuptools from the package index (build isolation), and the clean venv installs
clamp's dependencies from it: skipped with a reason when no index is reachable.
"""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from clamp import __version__

REPO = Path(__file__).resolve().parents[2]

#: What the sdist must carry beyond the package (MANIFEST.in) — a user validates against the
#: schemas and reads the docs without the repository.
SDIST_MUST_HOLD = ["LICENSE", "README.md", "pyproject.toml", "schemas/matrix.schema.json",
                   "schemas/provenance.schema.json", "schemas/telemetry_summary.schema.json",
                   "docs/verify.md", "docs/matrix.md", "examples/rocm_matrix.yml",
                   "src/clamp/data/trusted_root.json", "src/clamp/py.typed"]


def _run(argv: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=timeout)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # A copy of the tracked files only: what a clean clone builds, not this work tree's debris.
    src = tmp_path_factory.mktemp("clone") / "clamp"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, target)
    proc = _run([sys.executable, "-m", "build", "--outdir", str(out), str(src)], cwd=src)
    if proc.returncode != 0 and "Could not find a version" in proc.stdout + proc.stderr:
        pytest.skip("no package index reachable for build isolation")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_sdist_carries_schemas_docs_examples_and_the_licence(dist: Path) -> None:
    (sdist,) = dist.glob("clamp-*.tar.gz")
    assert sdist.name == f"clamp-{__version__}.tar.gz"
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    missing = [n for n in SDIST_MUST_HOLD if n not in names]
    assert not missing, missing


def test_wheel_declares_the_licence_and_one_version(dist: Path) -> None:
    (wheel,) = dist.glob("clamp-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(zf.read(meta_name))
        names = zf.namelist()
    assert meta["Version"] == __version__
    assert meta["License-Expression"] == "Apache-2.0"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "clamp/data/trusted_root.json" in names
    assert "Provides-Extra" in meta and "telemetry" in meta.get_all("Provides-Extra", [])


def test_the_wheel_runs_the_demo_from_another_directory(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("clamp-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    f"{wheel}[telemetry]"], cwd=tmp_path)
    assert install.returncode == 0, install.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    demo = _run([str(env_dir / "bin" / "clamp"), "demo", "--output", "out"], cwd=elsewhere)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert (elsewhere / "out" / "build" / "rocm_provenance.json").is_file()
    assert (elsewhere / "out" / "build" / "telemetry_summary.json").is_file()
    # The clamp that ran is the wheel's, not this checkout's.
    where = _run([str(python), "-c", "import clamp; print(clamp.__file__)"], cwd=elsewhere)
    assert str(env_dir) in where.stdout, where.stdout
