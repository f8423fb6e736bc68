"""The Avro schemas of the Kafka messages evolve backward-compatibly only.

``released_avro/`` keeps every released version of each schema (``<name>.<n>.avsc``); the
committed schema must read records written with each of them (Avro schema resolution, fastavro),
over many generated records. The checker itself is shown to refuse breaking changes.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import fastavro
import pytest
from fastavro.utils import generate_many

from docserve.contract.job_messages import JOB_REQUEST, JOB_RESULT, model_versions, schema

RELEASED = Path(__file__).parent / "released_avro"
NAMES = (JOB_REQUEST, JOB_RESULT)


def reads_everything_written_by(reader: dict, writer: dict, records: int = 50) -> bool:
    """Backward compatibility: ``reader`` resolves every record ``writer`` wrote."""
    parsed_writer, parsed_reader = fastavro.parse_schema(writer), fastavro.parse_schema(reader)
    for record in generate_many(parsed_writer, records):
        body = io.BytesIO()
        fastavro.schemaless_writer(body, parsed_writer, record)
        body.seek(0)
        try:
            fastavro.schemaless_reader(body, parsed_writer, parsed_reader)
        except (fastavro.read.SchemaResolutionError, ValueError, TypeError):
            return False
    return True


@pytest.mark.parametrize("name", NAMES)
def test_the_schemas_are_in_the_docserve_namespace_with_the_issue_s_fields(name):
    current = schema(name)
    assert current["namespace"] == "docserve" and current["type"] == "record"
    fastavro.parse_schema(current)
    fields = {field["name"]: field["type"] for field in current["fields"]}
    stamp = "submitted_at" if name == JOB_REQUEST else "finished_at"
    assert fields[stamp] == {"type": "long", "logicalType": "timestamp-millis"}
    if name == JOB_REQUEST:
        assert list(fields) == ["request_id", "pipeline", "location", "options_json", "callback_url",
                                "submitted_at", "owner"]
        assert fields["callback_url"] == ["null", "string"]
    else:
        assert list(fields) == ["request_id", "pipeline", "status", "result_json", "error_code",
                                "error_message", "model_versions", "attempts", "finished_at", "owner"]
        assert fields["model_versions"] == {"type": "map", "values": "string"}
    # Request ids are unique per owner; version 1 had no owner: its records read as null.
    owner = next(field for field in current["fields"] if field["name"] == "owner")
    assert (owner["type"], owner["default"]) == (["null", "string"], None)


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_schema_reads_every_released_version(name):
    released = sorted(RELEASED.glob(f"{name}.*.avsc"))
    assert released, f"no released version of {name} kept"
    for path in released:
        assert reads_everything_written_by(schema(name), json.loads(path.read_text())), path.name


def test_the_checker_allows_an_optional_field_and_refuses_breaking_changes():
    released = schema(JOB_RESULT)
    optional = copy.deepcopy(released)
    optional["fields"].append({"name": "worker", "type": ["null", "string"], "default": None})
    assert reads_everything_written_by(optional, released)
    required = copy.deepcopy(released)
    required["fields"].append({"name": "worker", "type": "string"})  # no default: old records lack it
    assert not reads_everything_written_by(required, released)
    retyped = copy.deepcopy(released)
    next(f for f in retyped["fields"] if f["name"] == "attempts")["type"] = "string"
    assert not reads_everything_written_by(retyped, released)


def test_model_versions_are_gathered_from_every_part_of_a_result():
    result = {"pages": [{"result": {"skew": {"models": [{"name": "deskew", "version": "2"}]},
                                    "text": {"models": [{"name": "text_detection", "version": "1"}]}}}]}
    assert model_versions(result) == {"deskew": "2", "text_detection": "1"}
    assert model_versions(None) == {}
