"""Kafka-in / Kafka-out: put ``JobRequest`` messages on the request topic, read their ``JobResult``.

For services that already speak Kafka (README, "Scale out"): the same work and result as
``POST /api/v1/jobs``, without the gateway. ::

    with KafkaJobClient("broker:9092", "http://registry:8081") as client:
        client.submit("invoice-1", "ocr", "s3://inbox/invoice-1.pdf")
        result = client.wait(["invoice-1"], timeout_s=600)["invoice-1"]
        result.status, result.result

Results are published at least once (a redelivered request republishes the stored outcome),
every copy the same: ``wait`` keeps the first per request id. Requests put on the topic are the
anonymous owner's jobs (request ids are unique per owner), so ``wait`` reads the anonymous
owner's results only, never an API key's job that has the same request id. ``wait`` reads from the result
topic's end as it was when the client was opened (``from_start=True``: from the beginning), so
open the client before submitting.
"""

from __future__ import annotations

import time
import uuid
from types import TracebackType
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from docserve.inference.job_messages import JobMessageCodec, JobRequestMessage, JobResultMessage

REQUEST_TOPIC = "docserve.requests"
RESULT_TOPIC = "docserve.results"


class KafkaJobClient:
    """A producer of job requests and a reader of the result topic (its own, group-less offsets)."""

    def __init__(self, bootstrap_servers: str, schema_registry_url: str, request_topic: str = REQUEST_TOPIC,
                 result_topic: str = RESULT_TOPIC, from_start: bool = False):
        self.codec = JobMessageCodec(schema_registry_url, request_topic, result_topic)
        self._producer = Producer({"bootstrap.servers": bootstrap_servers})
        self._consumer = Consumer({"bootstrap.servers": bootstrap_servers,
                                   "group.id": f"docserve-client-{uuid.uuid4().hex}",
                                   "enable.auto.commit": False})
        metadata = self._consumer.list_topics(result_topic, timeout=10).topics[result_topic]
        partitions = []
        for number in metadata.partitions:
            partition = TopicPartition(result_topic, number)
            _low, high = self._consumer.get_watermark_offsets(partition, timeout=10)
            partitions.append(TopicPartition(result_topic, number, OFFSET_BEGINNING if from_start else high))
        self._consumer.assign(partitions)
        self._seen: dict[str, JobResultMessage] = {}

    def submit(self, request_id: str, pipeline: str, location: str, options: dict[str, Any] | None = None,
               callback_url: str | None = None) -> None:
        """Produce one request (keyed by its id) and wait until the broker has it."""
        value = self.codec.encode_request(JobRequestMessage(
            request_id=request_id, pipeline=pipeline, location=location, options=options or {},
            callback_url=callback_url, submitted_at=time.time()))
        errors: list[Any] = []
        self._producer.produce(self.codec.request_topic, key=request_id, value=value,
                               on_delivery=lambda error, _message: errors.append(error) if error else None)
        if self._producer.flush(30) or errors:
            raise RuntimeError(f"request {request_id!r} was not delivered: {errors or 'timeout'}")

    def wait(self, request_ids: list[str], timeout_s: float) -> dict[str, JobResultMessage]:
        """The results of ``request_ids`` (the first of each); ``TimeoutError`` naming the missing ones."""
        deadline = time.monotonic() + timeout_s
        wanted = set(request_ids)
        while not wanted <= self._seen.keys():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no result for {sorted(wanted - self._seen.keys())} after {timeout_s}s")
            message = self._consumer.poll(0.2)
            if message is None or message.error():
                continue
            result = self.codec.decode_result(message.value())
            if not result.owner:  # anonymous ("") or published before owners (None)
                self._seen.setdefault(result.request_id, result)
        return {request_id: self._seen[request_id] for request_id in request_ids}

    def close(self) -> None:
        self._producer.flush(10)
        self._consumer.close()

    def __enter__(self) -> KafkaJobClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
