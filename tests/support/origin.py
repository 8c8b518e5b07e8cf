"""The origin project's own scripts (../shared/origin), loaded as the oracle of compatibility
tests: their answers are computed by their code, not clamp's.

The resolver as published does not compile (`global MATRIX_PATH` after its use in `main`), so
that one line is dropped before its functions are run; the verifier imports `requests`, which
the functions used here never call, so a stand-in module is provided.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

ORIGIN = Path(__file__).resolve().parents[2].parent / "shared" / "origin"


def origin_dir() -> Path:
    """../shared/origin, or skip the test (the repository works without it)."""
    if not (ORIGIN / "ci" / "resolve_rocm.py").is_file():
        pytest.skip("../shared/origin (the origin project's files) is not beside the repository")
    pytest.importorskip("yaml", reason="PyYAML runs the origin's scripts")
    return ORIGIN


def load_script(name: str) -> Any:
    """Execute ../shared/origin/ci/NAME.py as a module and return it."""
    source = (origin_dir() / "ci" / f"{name}.py").read_text()
    source = source.replace("    global MATRIX_PATH\n", "")
    sys.modules.setdefault("requests", types.ModuleType("requests"))
    module = types.ModuleType(f"origin_{name}")
    module.__file__ = str(ORIGIN / "ci" / f"{name}.py")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def origin_resolve(matrix: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """What the origin's resolver prints for `matrix` (manifests not asked: CLAMP_SKIP_MANIFEST,
    so only pinned entries resolve)."""
    resolver = load_script("resolve_rocm")
    monkeypatch.setenv("CLAMP_SKIP_MANIFEST", "1")
    resolver.MATRIX_PATH = matrix
    return str(resolver.resolve_image())


def origin_policy(path: Path) -> Any:
    """The origin verifier's `Policy.load(path)`."""
    return load_script("verify_rocm_digest").Policy.load(path)
