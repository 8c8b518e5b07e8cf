"""The checked-in JSON Schema matches the models, and the shipped examples are valid."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from clamp.matrix import load, select_image
from clamp.matrix.schema import matrix_schema, schema_text

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_schema_is_current() -> None:
    checked_in = (ROOT / "schemas" / "matrix.schema.json").read_text()
    assert checked_in == schema_text(), (
        "schemas/matrix.schema.json is stale: run "
        "`python -m clamp.matrix.schema > schemas/matrix.schema.json`")


def test_schema_forbids_unknown_keys_and_pins_digest_format() -> None:
    schema = matrix_schema()
    assert schema["additionalProperties"] is False
    entry = schema["$defs"]["ImageEntry"]
    assert entry["additionalProperties"] is False
    assert "digest" in entry["required"]
    text = json.dumps(entry["properties"]["digest"])
    assert "sha256:[0-9a-f]{64}" in text


def test_examples_are_valid() -> None:
    native = load(ROOT / "examples" / "rocm_matrix.yml")
    assert native.layout == "native" and native.warnings == []
    original = load(ROOT / "examples" / "original" / "ci" / "rocm_matrix.yml")
    assert original.layout == "original"
    assert original.policy_path == ROOT / "examples" / "original" / "ci" / "rocm_policy.yml"
    assert select_image(native.model).ref == select_image(original.model).ref


def test_loading_stays_light() -> None:
    """A pinned resolve needs no network or crypto stack: keep them out of clamp.matrix."""
    code = (
        "import sys;"
        "import clamp.matrix as m;"
        f"s = m.select_image(m.load({str(ROOT / 'examples' / 'rocm_matrix.yml')!r}).model);"
        "heavy = [n for n in ('httpx', 'cryptography', 'sigstore', 'duckdb', 'rich') "
        "if n in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    # No timed assertion (speed belongs in benchmarks/): what is imported is the cause of slowness.
    assert out == ["[]"]
