"""Job messages on Kafka in the Confluent wire format: Avro bodies under schema-registry ids.

Shared by the gateway's Kafka queue and the Python Kafka client, so both write and read the
same bytes: :class:`JobMessageCodec` wraps confluent-kafka's ``AvroSerializer`` /
``AvroDeserializer`` over the committed schemas (:mod:`docserve.contract.job_messages`),
registered under the request and result topics' value subjects (``<topic>-value``).

Both schemas are registered when the codec is built, request first: with a real registry that
surfaces a refused (incompatible) schema at start; with confluent-kafka's in-process
``mock://`` registry it gives every process the same ids (1 and 2), which is what lets the
tests' separate processes read each other's messages (README, "Scale out").

Both messages carry the job's ``owner`` (schema version 2): request ids are unique per owner, so
a job is ``(owner, request_id)``. On the wire ``""`` is the anonymous owner and null (what a
version-1 message reads as) means the writer predates owners; the dataclasses keep that
distinction (``owner`` None) for the reader to resolve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from docserve.contract.job_messages import JOB_REQUEST, JOB_RESULT, schema_text


@dataclass(frozen=True)
class JobRequestMessage:
    request_id: str
    pipeline: str
    location: str
    options: dict[str, Any]
    callback_url: str | None
    submitted_at: float  # seconds since the epoch (timestamp-millis on the wire)
    owner: str | None = ""  # the API key's name, "" anonymous; None: a message from before owners


@dataclass(frozen=True)
class JobResultMessage:
    request_id: str
    pipeline: str
    status: str
    result: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    model_versions: dict[str, str]
    attempts: int
    finished_at: float
    owner: str | None = ""  # as in the request: "" anonymous; None: published before owners


def _stamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _seconds(stamp: datetime | int) -> float:
    return stamp.timestamp() if isinstance(stamp, datetime) else stamp / 1000


class JobMessageCodec:
    """Encode and decode ``JobRequest`` and ``JobResult`` values for two topics."""

    def __init__(self, registry_url: str, request_topic: str, result_topic: str):
        self.request_topic = request_topic
        self.result_topic = result_topic
        self.registry = SchemaRegistryClient.new_client({"url": registry_url})
        request_schema, result_schema = schema_text(JOB_REQUEST), schema_text(JOB_RESULT)
        self.registry.register_schema(f"{request_topic}-value", Schema(request_schema, "AVRO"))
        self.registry.register_schema(f"{result_topic}-value", Schema(result_schema, "AVRO"))
        # Write under the ids registered above (not a second, re-normalized registration).
        registered = {"auto.register.schemas": False, "use.latest.version": True}
        self._request_out = AvroSerializer(self.registry, request_schema, conf=registered)
        self._request_in = AvroDeserializer(self.registry, request_schema)
        self._result_out = AvroSerializer(self.registry, result_schema, conf=registered)
        self._result_in = AvroDeserializer(self.registry, result_schema)

    def encode_request(self, message: JobRequestMessage) -> bytes:
        value = {"request_id": message.request_id, "pipeline": message.pipeline,
                 "location": message.location, "options_json": json.dumps(message.options, sort_keys=True),
                 "callback_url": message.callback_url, "submitted_at": _stamp(message.submitted_at),
                 "owner": message.owner}
        return self._request_out(value, SerializationContext(self.request_topic, MessageField.VALUE))

    def decode_request(self, data: bytes, topic: str | None = None) -> dict[str, Any]:
        """The request's Avro record as the committed schema reads it (fields not checked yet:
        ``SerializationError`` for bytes that are not a registered JobRequest)."""
        return self._request_in(data, SerializationContext(topic or self.request_topic, MessageField.VALUE))

    def encode_result(self, message: JobResultMessage) -> bytes:
        value = {"request_id": message.request_id, "pipeline": message.pipeline, "status": message.status,
                 "result_json": None if message.result is None else json.dumps(message.result),
                 "error_code": message.error_code, "error_message": message.error_message,
                 "model_versions": message.model_versions, "attempts": message.attempts,
                 "finished_at": _stamp(message.finished_at), "owner": message.owner}
        return self._result_out(value, SerializationContext(self.result_topic, MessageField.VALUE))

    def decode_result(self, data: bytes) -> JobResultMessage:
        value = self._result_in(data, SerializationContext(self.result_topic, MessageField.VALUE))
        return JobResultMessage(
            request_id=value["request_id"], pipeline=value["pipeline"], status=value["status"],
            result=None if value["result_json"] is None else json.loads(value["result_json"]),
            error_code=value["error_code"], error_message=value["error_message"],
            model_versions=dict(value["model_versions"]), attempts=value["attempts"],
            finished_at=_seconds(value["finished_at"]), owner=value["owner"],
        )


def request_fields(value: dict[str, Any]) -> JobRequestMessage:
    """The decoded record as a message; ``ValueError`` for options that are not a JSON object."""
    try:
        options = json.loads(value["options_json"])
    except json.JSONDecodeError as error:
        raise ValueError(f"options_json is not JSON: {error}") from error
    if not isinstance(options, dict):
        raise ValueError("options_json must be a JSON object")
    return JobRequestMessage(
        request_id=value["request_id"], pipeline=value["pipeline"], location=value["location"],
        options=options, callback_url=value["callback_url"], submitted_at=_seconds(value["submitted_at"]),
        owner=value["owner"],
    )
