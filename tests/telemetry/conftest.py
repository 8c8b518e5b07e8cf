"""Helpers for telemetry tests: a ROOT with session files, provenance and the demo samples."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DIGESTS = ["sha256:" + c * 64 for c in "abc"]


def record(i: int = 0, **over: Any) -> dict[str, Any]:
    """One valid record (second i of 2025-01-01), with overrides."""
    base: dict[str, Any] = {
        "context": f"k{i}", "seed": 1000 + i, "thread_id": i % 3,
        "acquired_at": f"2025-01-01T00:00:{i % 60:02d}Z",
        "released_at": f"2025-01-01T00:01:{i % 60:02d}Z",
        "duration_ms": 10.0 + i, "stability_score": 0.5 + (i % 10) / 20,
        "backend": "hip", "deviceName": "gfx90a"}
    base.update(over)
    return base


@pytest.fixture
def make_root(tmp_path: Path) -> Callable[..., Path]:
    """make_root({name: document_or_text}) -> ROOT with ROOT/build/telemetry/<name>."""

    def make(files: dict[str, Any], provenance: Any = None) -> Path:
        tdir = tmp_path / "root" / "build" / "telemetry"
        tdir.mkdir(parents=True, exist_ok=True)
        for name, doc in files.items():
            text = doc if isinstance(doc, str) else json.dumps(doc)
            (tdir / name).write_text(text, encoding="utf-8")
        if provenance is not None:
            (tmp_path / "root" / "build" / "rocm_provenance.json").write_text(
                json.dumps(provenance), encoding="utf-8")
        return tmp_path / "root"

    return make


def provenance_doc(statuses: dict[str, str], resolved: str | None = None) -> dict[str, Any]:
    return {"schemaVersion": 1, "tool": {}, "matrix": {}, "generatedAt": "2025-01-01T00:00:00Z",
            "resolved": {"image": "ghcr.io/rocm/dev@" + resolved, "digest": resolved}
            if resolved else None,
            "records": [{"image": f"ghcr.io/rocm/dev:6.4.4-ubuntu-22.04@{d}", "digest": d,
                         "trustStatus": s, "issuer": "https://issuer.example" if s == "valid"
                         else None, "identity": None,
                         "timestamp": {"time": "2025-01-01T00:00:00Z", "source": "SET"},
                         "logIndex": 7, "digestAlgorithm": "sha256",
                         "policyDecision": "pass" if s == "valid" else "fail",
                         "policyPath": "ci/rocm_matrix.yml", "policyMode": "strict"}
                        for d, s in statuses.items()]}
