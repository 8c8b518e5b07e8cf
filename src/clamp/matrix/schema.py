"""JSON Schema of the native matrix format, generated from the models.

`python -m clamp.matrix.schema > schemas/matrix.schema.json` regenerates the checked-in copy; a
test fails when the two differ, so editors and other tools never validate against a stale schema.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_ID = "https://clamp.invalid/schemas/matrix.schema.json"


def matrix_schema() -> dict[str, Any]:
    from clamp.matrix.models import MatrixFile

    schema = MatrixFile.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            **schema}


def schema_text() -> str:
    return json.dumps(matrix_schema(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
