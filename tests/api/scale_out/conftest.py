"""Real servers for the scale-out mode: a Tansu broker, redis-server, nx-27017 (MongoDB wire).

Each test gets its own topics (4 partitions), consumer group, database and registry name, so
tests sharing the session's servers never read each other's messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from real_servers import ServerProcess, redis, tansu

from docserve.api.settings import Settings

PARTITIONS = 4


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = tansu(tmp_path_factory.mktemp("tansu")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = redis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def create_topics(bootstrap: str, topics: list[str], partitions: int = PARTITIONS) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1) for topic in topics]).values():
        future.result(timeout=30)


@dataclass
class ScaleOut:
    settings: Settings
    bootstrap: str

    @property
    def topics(self) -> list[str]:
        s = self.settings
        return [s.kafka_request_topic, s.kafka_result_topic, s.kafka_dead_letter_topic]


def scale_out_settings(base: Settings, bootstrap: str, mongo_url: str, redis_port: int | None,
                       data_dir: Path) -> Settings:
    run = uuid.uuid4().hex[:10]
    return base.model_copy(update={
        "data_dir": data_dir, "queue": "kafka", "store": "mongodb",
        "kafka_bootstrap_servers": bootstrap, "kafka_request_topic": f"req-{run}",
        "kafka_result_topic": f"res-{run}", "kafka_dead_letter_topic": f"dead-{run}",
        "kafka_consumer_group": f"workers-{run}", "schema_registry_url": f"mock://{run}",
        "mongodb_url": mongo_url, "mongodb_database": f"d{run}",
        "redis_url": f"redis://127.0.0.1:{redis_port}/0" if redis_port else None,
    })


@pytest.fixture
def scale_out(jobs_settings: Settings, broker: ServerProcess, mongo_url: str, redis_server: ServerProcess,
              tmp_path: Path) -> ScaleOut:
    bootstrap = f"127.0.0.1:{broker.port}"
    settings = scale_out_settings(jobs_settings, bootstrap, mongo_url, redis_server.port, tmp_path / "data")
    built = ScaleOut(settings, bootstrap)
    create_topics(bootstrap, built.topics)
    return built
