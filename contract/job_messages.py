"""The Kafka messages of the scale-out mode: the Avro schemas of ``JobRequest`` and ``JobResult``.

The schemas are committed as ``.avsc`` files beside this module (namespace ``docserve``) and
registered in the schema registry under the topics' value subjects; messages use the Confluent
wire format (magic byte 0, 4-byte schema id, Avro body), keyed by ``request_id``. They evolve
backward-compatibly only: a reader with the current schema reads every message written with a
released one (tests/contract/test_job_messages.py holds the released versions and checks it).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

JOB_REQUEST = "job_request"
JOB_RESULT = "job_result"


def schema_text(name: str) -> str:
    """The committed Avro schema ``name`` (``JOB_REQUEST`` or ``JOB_RESULT``) as JSON text."""
    return resources.files(__package__).joinpath("avro", f"{name}.avsc").read_text(encoding="utf-8")


def schema(name: str) -> dict[str, Any]:
    return json.loads(schema_text(name))


def model_versions(result: dict[str, Any] | None) -> dict[str, str]:
    """Every ``{"name", "version"}`` model a stored ``DocumentResult`` names, as name -> version."""
    found: dict[str, str] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "models" and isinstance(item, list):
                    for model in item:
                        if isinstance(model, dict) and {"name", "version"} <= model.keys():
                            found[str(model["name"])] = str(model["version"])
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(result)
    return found
