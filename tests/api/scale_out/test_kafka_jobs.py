"""Kafka in, Kafka out; REST in, Kafka out: real broker, real MongoDB-wire store, real Redis, real Triton.

The gateway and its workers run in this process here (the registry is confluent-kafka's
in-process ``mock://``; tests/api/scale_out/test_kafka_workers.py runs worker processes).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from fastapi.testclient import TestClient
from real_servers import PARTITIONS
from sample_documents import png_page
from two_owners import two_owners_of_one_request_id

from docserve.api.api_keys import KeysFile
from docserve.api.app import create_app
from docserve.api.embedded_triton import free_port
from docserve.api.jobs.kafka_queue import DEAD_LETTER_REASON
from docserve.api.jobs.mongo_jobs import MongoJobs
from docserve.api.jobs.records import JobRequest
from docserve.api.metrics import GatewayMetrics
from docserve.api.services import Services
from docserve.client.kafka_jobs import KafkaJobClient
from docserve.contract.errors import NotFoundError
from docserve.contract.job_messages import model_versions
from docserve.contract.jobs import JobStatus
from docserve.inference.job_messages import JobMessageCodec

PIPELINE = "page_probe_pipeline"
RELEASED_AVRO = Path(__file__).parents[2] / "contract" / "released_avro"


def _client(scale_out, **extra) -> KafkaJobClient:
    s = scale_out.settings
    return KafkaJobClient(scale_out.bootstrap, s.schema_registry_url, s.kafka_request_topic,
                          s.kafka_result_topic, **extra)


def _page(inbox, name="page.png", width=320, height=200) -> str:
    (inbox / name).write_bytes(png_page(width, height))
    return f"file://{inbox / name}"


def _dead_letters(scale_out, count: int, timeout_s: float = 30) -> list:
    """The first ``count`` messages of the dead-letter topic (read from its start, no group)."""
    consumer = Consumer({"bootstrap.servers": scale_out.bootstrap, "group.id": f"dead-{time.time()}"})
    topic = scale_out.settings.kafka_dead_letter_topic
    consumer.assign([TopicPartition(topic, number, OFFSET_BEGINNING) for number in range(PARTITIONS)])
    found, deadline = [], time.monotonic() + timeout_s
    while len(found) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            found.append(message)
    consumer.close()
    return found


def test_kafka_in_kafka_out_and_rest_in_kafka_out_give_the_rest_result(scale_out, probe_pipeline, inbox):
    location = _page(inbox)
    with TestClient(create_app(scale_out.settings)) as api, _client(scale_out) as kafka:
        kafka.submit("via-kafka", PIPELINE, location)
        assert api.post("/api/v1/jobs", json={"request_id": "via-rest", "pipeline": PIPELINE,
                                               "location": location}).status_code == 202
        results = kafka.wait(["via-kafka", "via-rest"], timeout_s=60)
        for request_id, result in results.items():
            assert (result.status, result.attempts, result.error_code) == ("succeeded", 1, None), request_id
            assert result.result["pages"][0]["result"]["page"] == {"width": 320, "height": 200}
            assert result.model_versions == model_versions(result.result)  # the probe names none
        assert results["via-kafka"].result["pages"][0]["result"]["page"] == \
            results["via-rest"].result["pages"][0]["result"]["page"]
        for request_id in results:  # REST reads the same stored outcome (Kafka-in jobs too)
            view = api.get(f"/api/v1/jobs/{request_id}").json()
            assert view["status"] == JobStatus.SUCCEEDED.value
            assert view["result"] == results[request_id].result
        again = api.post("/api/v1/jobs", json={"request_id": "via-rest", "pipeline": PIPELINE,
                                               "location": location})
        assert again.status_code in (200, 202) and again.json()["status"] == "succeeded"
        conflict = api.post("/api/v1/jobs", json={"request_id": "via-rest", "pipeline": PIPELINE,
                                                  "location": location, "options": {"pages": [1]}})
        assert conflict.status_code == 409


def test_two_keys_each_have_their_own_job_under_one_request_id(scale_out, probe_pipeline, inbox, tmp_path):
    """Kafka queue, MongoDB store, Redis cache: the owner travels in the request and result
    messages, workers start and settle (owner, request_id), the cache keeps the two jobs apart."""
    keys_file = KeysFile.load(tmp_path / "api-keys.json")
    keys = {"alice": keys_file.create("alice"), "bob": keys_file.create("bob")}
    settings = scale_out.settings.model_copy(update={"api_keys_file": keys_file.path})

    def gateway(run_workers: bool) -> TestClient:
        return TestClient(create_app(settings.model_copy(update={"run_workers": run_workers})))

    two_owners_of_one_request_id(gateway, inbox, keys)
    published = {(result.owner, result.request_id, result.status) for result in _results(scale_out, 5)}
    assert published == {("alice", "alice-1", "succeeded"), ("bob", "alice-1", "succeeded"),
                         ("alice", "alice-2", "succeeded"), ("bob", "alice-2", "cancelled"),
                         ("alice", "alice-3", "succeeded")}


def _results(scale_out, count: int, timeout_s: float = 30) -> list:
    """The distinct results on the result topic (read from its start, no group), decoded."""
    s = scale_out.settings
    codec = JobMessageCodec(s.schema_registry_url, s.kafka_request_topic, s.kafka_result_topic)
    consumer = Consumer({"bootstrap.servers": scale_out.bootstrap, "group.id": f"results-{time.time()}"})
    consumer.assign([TopicPartition(s.kafka_result_topic, number, OFFSET_BEGINNING)
                     for number in range(PARTITIONS)])
    found, deadline = {}, time.monotonic() + timeout_s
    while len(found) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            result = codec.decode_result(message.value())
            found.setdefault((result.owner, result.request_id), result)
    consumer.close()
    return list(found.values())


def test_a_request_message_from_before_owners_runs_the_job_its_request_id_named(scale_out, probe_pipeline,
                                                                                inbox):
    """A version-1 JobRequest (no owner field) left on the topic by the previous version runs the
    job its id named then, alice's, not a new job of the anonymous owner."""
    s = scale_out.settings
    location = _page(inbox, width=40, height=30)

    async def submitted_by_the_previous_version() -> None:
        store = MongoJobs(s.mongodb_url, s.mongodb_database, max_queue=10, retention_s=60)
        await store.submit(JobRequest("old-1", PIPELINE, location, owner="alice"))
        await store.close()

    asyncio.run(submitted_by_the_previous_version())
    with TestClient(create_app(s)) as api:
        registry = api.app.state.services.queue.codec.registry  # the mock registry lives in the client
        version_1 = (RELEASED_AVRO / "job_request.1.avsc").read_text()
        registry.register_schema(f"{s.kafka_request_topic}-value", Schema(version_1, "AVRO"))
        write_v1 = AvroSerializer(registry, version_1, conf={"auto.register.schemas": False,
                                                             "use.latest.version": True})
        value = write_v1({"request_id": "old-1", "pipeline": PIPELINE, "location": location,
                          "options_json": "{}", "callback_url": None, "submitted_at": datetime.now(UTC)},
                         SerializationContext(s.kafka_request_topic, MessageField.VALUE))
        producer = Producer({"bootstrap.servers": scale_out.bootstrap})
        producer.produce(s.kafka_request_topic, key="old-1", value=value)
        producer.flush(10)
        (result,) = _results(scale_out, 1, timeout_s=60)
    assert (result.owner, result.request_id, result.status) == ("alice", "old-1", "succeeded")
    assert result.result["pages"][0]["result"]["page"] == {"width": 40, "height": 30}


def test_poison_messages_go_to_the_dead_letter_topic_and_consumption_goes_on(scale_out, probe_pipeline,
                                                                             inbox):
    s = scale_out.settings
    location = _page(inbox)
    with TestClient(create_app(s)), _client(scale_out) as kafka:
        producer = Producer({"bootstrap.servers": scale_out.bootstrap})
        producer.produce(s.kafka_request_topic, key="junk", value=b"not avro at all")
        producer.produce(s.kafka_request_topic, key="unknown-id", value=b"\x00\x00\x00\x03\xe7" + b"\x02a")
        producer.flush(10)
        kafka.submit("bad id with spaces", PIPELINE, location)  # good Avro, a request_id out of grammar
        kafka.submit("bad-options", PIPELINE, location, options={"pages": "all"})
        kafka.submit("after-the-poison", PIPELINE, location)
        assert kafka.wait(["after-the-poison"], timeout_s=60)["after-the-poison"].status == "succeeded"
        # Partitions are consumed independently: the poison on other partitions may still be in
        # the worker's hands when the good message is done, so read the dead letters while it runs.
        dead = _dead_letters(scale_out, 4, timeout_s=60)
    reasons = {message.key().decode(): dict(message.headers())[DEAD_LETTER_REASON].decode()
               for message in dead}
    assert reasons.keys() == {"junk", "unknown-id", "bad id with spaces", "bad-options"}
    assert reasons["junk"].startswith("undecodable") and reasons["unknown-id"].startswith("undecodable")
    assert "request_id" in reasons["bad id with spaces"] and "pages" in reasons["bad-options"]
    assert dict(dead[0].headers())["docserve-source"].decode().startswith(s.kafka_request_topic)


def test_a_failed_job_is_published_once_stored_and_a_repeat_republishes_it(scale_out, probe_pipeline, inbox):
    (inbox / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    location = f"file://{inbox / 'broken.png'}"
    with TestClient(create_app(scale_out.settings)) as api, _client(scale_out) as kafka:
        kafka.submit("broken", PIPELINE, location)
        first = kafka.wait(["broken"], timeout_s=60)["broken"]
        assert first.status == "failed" and first.error_code and first.result is None
        stored = api.get("/api/v1/jobs/broken").json()
        assert stored["error"]["code"] == first.error_code
    with _client(scale_out) as late_reader, TestClient(create_app(scale_out.settings)):
        late_reader.submit("broken", PIPELINE, location)  # a duplicate request: no second attempt
        repeat = late_reader.wait(["broken"], timeout_s=60)["broken"]
    assert (repeat.status, repeat.error_code, repeat.attempts) == (
        first.status, first.error_code, first.attempts)


@pytest.mark.parametrize("restart", ["redis"])
def test_a_restarted_redis_loses_no_result(scale_out, probe_pipeline, inbox, redis_server, restart):
    location = _page(inbox)
    with TestClient(create_app(scale_out.settings)) as api, _client(scale_out) as kafka:
        kafka.submit("cached", PIPELINE, location)
        kafka.wait(["cached"], timeout_s=60)
        before = api.get("/api/v1/jobs/cached").json()
        redis_server.stop()
        during = api.get("/api/v1/jobs/cached").json()  # Redis down: MongoDB answers
        redis_server.start()
        after = api.get("/api/v1/jobs/cached").json()  # restarted empty: refilled from MongoDB
    assert before == during == after and before["status"] == "succeeded"
    assert json.dumps(before["result"])


def test_a_triton_outage_pauses_consumption_instead_of_a_tight_retry_loop(scale_out, inbox):
    """Triton unreachable: the first job's attempt fails transiently, the partitions pause for
    its retry delay, and a request sent meanwhile is not even taken until the pause ends."""
    settings = scale_out.settings.model_copy(update={
        "triton_grpc_port": free_port(), "triton_retries": 0, "job_retry_base_s": 4.0,
        "job_max_attempts": 2, "run_workers": True})
    location = _page(inbox)

    async def scenario() -> tuple[list[bool], int, int]:
        services = Services.open(settings, run_workers=True, metrics=GatewayMetrics())
        try:
            with _client(scale_out) as kafka:
                kafka.submit("first", PIPELINE, location)
                while (await _stored(services, "first")) is None or \
                        (await services.store.get("first")).error_code is None:
                    await asyncio.sleep(0.05)
                kafka.submit("meanwhile", PIPELINE, location)
                taken_during_pause = []
                for _ in range(20):  # 2 s of the 4 s pause
                    taken_during_pause.append(await _stored(services, "meanwhile") is not None)
                    await asyncio.sleep(0.1)
                first_attempts = (await services.store.get("first")).attempts
                for _ in range(150):  # the pause ends: it is taken (and meets the outage too)
                    if (job := await _stored(services, "meanwhile")) is not None and job.attempts:
                        break
                    await asyncio.sleep(0.1)
                return taken_during_pause, first_attempts, (await services.store.get("meanwhile")).attempts
        finally:
            await services.close()

    taken_during_pause, first_attempts, later_attempts = asyncio.run(scenario())
    assert not any(taken_during_pause)
    assert first_attempts == 1  # no retry before its delay
    assert later_attempts >= 1


async def _stored(services: Services, request_id: str):
    try:
        return await services.store.get(request_id)
    except NotFoundError:
        return None
