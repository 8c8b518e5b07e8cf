"""JSON Schema of telemetry_summary.json, generated from the pydantic models.

`python -m clamp.telemetry.schema > schemas/telemetry_summary.schema.json` regenerates the
checked-in copy; a test fails when the two differ.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_ID = "https://clamp.invalid/schemas/telemetry_summary.schema.json"


def summary_schema() -> dict[str, Any]:
    from clamp.telemetry.models import TelemetrySummary

    schema = TelemetrySummary.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            **schema}


def schema_text() -> str:
    return json.dumps(summary_schema(), indent=2) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
