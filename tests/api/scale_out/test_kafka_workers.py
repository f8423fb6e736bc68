"""`docserve worker` processes as one consumer group on a 4-partition request topic.

Real processes (SIGKILL is real), the session's real Triton, the real Tansu broker and MongoDB-
wire server. Every process names the same ``mock://`` registry: the codec registers the two
schemas in one order at start, so their ids agree across processes (inference/job_messages.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from fastapi.testclient import TestClient
from real_servers import PARTITIONS, ScaleOut, create_topics, scale_out_settings, tansu
from sample_documents import png_page

from docserve.api.app import create_app
from docserve.api.jobs.mongo_jobs import MongoJobs
from docserve.api.settings import Settings
from docserve.client.kafka_jobs import KafkaJobClient
from docserve.contract.errors import NotFoundError
from docserve.contract.jobs import JobStatus
from docserve.inference.job_messages import JobMessageCodec

PIPELINE = "page_probe_pipeline"
ENV_FIELDS = (
    "data_dir", "triton_grpc_port", "queue", "store", "kafka_bootstrap_servers", "kafka_request_topic",
    "kafka_result_topic", "kafka_dead_letter_topic", "kafka_consumer_group", "schema_registry_url",
    "mongodb_url", "mongodb_database", "job_lease_s", "worker_concurrency", "allow_private_hosts",
)


def _env(settings: Settings, inbox: Path) -> dict[str, str]:
    env = {**os.environ, "DOCSERVE_LOG_JSON": "false", "DOCSERVE_FILE_ROOTS": str(inbox)}
    for name in ENV_FIELDS:
        value = getattr(settings, name)
        env[f"DOCSERVE_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


@contextmanager
def workers(settings: Settings, inbox: Path, count: int, logs: Path) -> Iterator[list[subprocess.Popen]]:
    started = []
    try:
        for index in range(count):
            with (logs / f"worker-{index}.log").open("w") as log:
                started.append(subprocess.Popen(
                    [sys.executable, "-m", "docserve.cli.main", "worker"], env=_env(settings, inbox),
                    stdout=log, stderr=subprocess.STDOUT))
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _log(folder: Path, worker: int) -> str:
    return (folder / f"worker-{worker}.log").read_text()


def _client(scale_out: ScaleOut) -> KafkaJobClient:
    s = scale_out.settings
    return KafkaJobClient(scale_out.bootstrap, s.schema_registry_url, s.kafka_request_topic,
                          s.kafka_result_topic)


def _all_results(scale_out: ScaleOut, expected: int, timeout_s: float = 20) -> list[str]:
    """The request id of every message on the result topic (read from the start, no group)."""
    s = scale_out.settings
    codec = JobMessageCodec(s.schema_registry_url, s.kafka_request_topic, s.kafka_result_topic)
    consumer = Consumer({"bootstrap.servers": scale_out.bootstrap, "group.id": f"read-{time.time()}"})
    consumer.assign([TopicPartition(s.kafka_result_topic, n, OFFSET_BEGINNING) for n in range(PARTITIONS)])
    ids: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(ids) <= expected:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            ids.append(codec.decode_result(message.value()).request_id)
        elif message is None and len(ids) == expected:
            break  # every expected result read and nothing more arrives
    consumer.close()
    return ids


def _record(settings: Settings, request_id: str):
    async def read():
        store = MongoJobs(settings.mongodb_url, settings.mongodb_database, max_queue=10, retention_s=60)
        try:
            return await store.get(request_id)
        finally:
            await store.close()
    return asyncio.run(read())


def _status(settings: Settings, request_id: str) -> JobStatus | None:
    """The stored status; None before a worker created the record of a Kafka-in request."""
    try:
        return _record(settings, request_id).status
    except NotFoundError:
        return None


def _wait_until(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.1)


def _pages(inbox: Path, count: int) -> list[str]:
    locations = []
    for index in range(count):
        (inbox / f"p{index}.png").write_bytes(png_page(100 + index, 50))
        locations.append(f"file://{inbox / f'p{index}.png'}")
    return locations


def test_two_worker_processes_share_the_partitions_and_every_job_completes_once(
        scale_out, probe_pipeline, inbox, tmp_path):
    locations = _pages(inbox, 12)
    ids = [f"shared-{index}" for index in range(12)]
    with workers(scale_out.settings, inbox, 2, tmp_path) as processes, _client(scale_out) as kafka:
        for request_id, location in zip(ids, locations, strict=True):
            kafka.submit(request_id, PIPELINE, location)
        results = kafka.wait(ids, timeout_s=120)
        assert all(process.poll() is None for process in processes)
    for index, request_id in enumerate(ids):
        assert (results[request_id].status, results[request_id].attempts) == ("succeeded", 1)
        assert results[request_id].result["pages"][0]["result"]["page"]["width"] == 100 + index
        assert _record(scale_out.settings, request_id).attempts == 1
    assert sorted(_all_results(scale_out, len(ids))) == sorted(ids)  # one outcome each, published once
    ran = [(tmp_path / f"worker-{n}.log").read_text().count(" succeeded") for n in range(2)]
    assert sum(ran) == len(ids) and all(ran), ran  # both processes took partitions


def test_a_worker_killed_mid_job_loses_it_to_the_other_after_the_rebalance(
        scale_out, probe_pipeline, document_server, inbox, tmp_path):
    base, handler = document_server
    handler.documents["/killed.png"] = png_page(77, 66)
    settings = scale_out.settings.model_copy(update={"allow_private_hosts": True, "job_lease_s": 4.0})
    with workers(settings, inbox, 2, tmp_path) as processes, _client(scale_out) as kafka:
        _wait_until(lambda: all("worker ready" in _log(tmp_path, n) for n in range(2)))
        kafka.submit("killed", PIPELINE, f"{base}/slow/killed.png")  # the server waits 3 s
        _wait_until(lambda: _status(settings, "killed") == JobStatus.PROCESSING)
        _wait_until(lambda: any("job killed attempt 1" in _log(tmp_path, n) for n in range(2)))
        owner = next(process for n, process in enumerate(processes)
                     if "job killed attempt 1" in _log(tmp_path, n))
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        result = kafka.wait(["killed"], timeout_s=90)["killed"]
    assert (result.status, result.attempts) == ("succeeded", 2)
    assert result.result["pages"][0]["result"]["page"]["width"] == 77
    assert _all_results(scale_out, 1) == ["killed"]


def test_docserve_submit_via_kafka(scale_out, probe_pipeline, inbox, tmp_path):
    locations = _pages(inbox, 2)
    files = [location.removeprefix("file://") for location in locations]
    s = scale_out.settings
    out = tmp_path / "results.jsonl"
    with workers(s, inbox, 1, tmp_path):
        finished = subprocess.run(
            [sys.executable, "-m", "docserve.cli.main", "submit", *files, "--pipeline", PIPELINE,
             "--via", "kafka", "--out", str(out), "--timeout", "90"],
            env={**os.environ, "DOCSERVE_KAFKA_BOOTSTRAP_SERVERS": scale_out.bootstrap,
                 "DOCSERVE_SCHEMA_REGISTRY_URL": s.schema_registry_url,
                 "DOCSERVE_KAFKA_REQUEST_TOPIC": s.kafka_request_topic,
                 "DOCSERVE_KAFKA_RESULT_TOPIC": s.kafka_result_topic},
            capture_output=True, text=True, timeout=150)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    widths = {line["source"]: line["result"]["pages"][0]["result"]["page"]["width"] for line in lines}
    assert widths == {files[0]: 100, files[1]: 101} and all(line["ok"] for line in lines)


@pytest.fixture
def durable_broker(s3_server, tmp_path) -> Iterator:
    """A Tansu broker storing to S3 (moto_server): its topics survive a restart."""
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket="tansu")
    server = tansu(tmp_path, storage="s3://tansu/", env={
        "AWS_ENDPOINT": s3_server, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}).start()
    yield server
    server.stop()


def test_a_restarted_broker_loses_nothing_and_workers_reconnect(
        jobs_settings, durable_broker, mongo_url, probe_pipeline, inbox, tmp_path):
    bootstrap = f"127.0.0.1:{durable_broker.port}"
    settings = scale_out_settings(jobs_settings, bootstrap, mongo_url, None, tmp_path / "data")
    scale_out = ScaleOut(settings, bootstrap)
    create_topics(bootstrap, scale_out.topics)
    before, after = _pages(inbox, 2)
    with workers(settings, inbox, 1, tmp_path):
        with _client(scale_out) as kafka:
            kafka.submit("before-restart", PIPELINE, before)
            assert kafka.wait(["before-restart"], timeout_s=90)["before-restart"].status == "succeeded"
        durable_broker.stop()
        durable_broker.start()
        with _client(scale_out) as kafka:
            kafka.submit("after-restart", PIPELINE, after)
            assert kafka.wait(["after-restart"], timeout_s=90)["after-restart"].status == "succeeded"
    assert sorted(_all_results(scale_out, 2)) == ["after-restart", "before-restart"]  # the topic survived


def test_a_submission_while_the_broker_is_down_is_a_503_and_its_repeat_runs_it(
        jobs_settings, durable_broker, mongo_url, probe_pipeline, inbox, tmp_path):
    bootstrap = f"127.0.0.1:{durable_broker.port}"
    settings = scale_out_settings(jobs_settings, bootstrap, mongo_url, None, tmp_path / "data")
    create_topics(bootstrap, ScaleOut(settings, bootstrap).topics)
    body = {"request_id": "while-down", "pipeline": PIPELINE, "location": _pages(inbox, 1)[0]}
    with TestClient(create_app(settings)) as api:
        durable_broker.stop()
        refused = api.post("/api/v1/jobs", json=body)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "queue_unavailable"
        assert "Retry-After" in refused.headers
        assert api.get("/api/v1/jobs/while-down").json()["status"] == "queued"  # stored, not lost
        durable_broker.start()
        assert api.post("/api/v1/jobs", json=body).status_code == 200  # the repeat offers it again
        deadline = time.monotonic() + 90
        while (job := api.get("/api/v1/jobs/while-down").json())["status"] != "succeeded":
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
