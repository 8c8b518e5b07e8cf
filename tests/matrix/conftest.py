"""Fixtures for the matrix tests: small matrices of both layouts written to a temp dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from matrix_samples import NATIVE, ORIGINAL, PEM, POLICY


@pytest.fixture
def native(tmp_path: Path) -> Callable[[str], Path]:
    """Write native matrix text (with its key file) and return the path."""
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "mirror.pub").write_text(PEM)

    def write(text: str = NATIVE) -> Path:
        path = tmp_path / "matrix.yml"
        path.write_text(text)
        return path

    return write


@pytest.fixture
def original(tmp_path: Path) -> Callable[..., Path]:
    """Write an original-layout pair in <tmp>/ci/ (key under <tmp>/ci/keys) and return it."""
    ci = tmp_path / "ci"
    (ci / "keys").mkdir(parents=True)
    (ci / "keys" / "rocm.pub").write_text(PEM)

    def write(text: str = ORIGINAL, policy: str | None = POLICY) -> Path:
        path = ci / "rocm_matrix.yml"
        path.write_text(text)
        if policy is not None:
            (ci / "rocm_policy.yml").write_text(policy)
        return path

    return write
