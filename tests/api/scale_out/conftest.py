"""Real servers for the scale-out mode: a Tansu broker, redis-server, nx-27017 (MongoDB wire).

Each test gets its own topics (4 partitions), consumer group, database and registry name, so
tests sharing the session's servers never read each other's messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from real_servers import ScaleOut, ServerProcess, create_topics, redis, scale_out_settings, tansu

from docserve.api.settings import Settings


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


@pytest.fixture
def scale_out(jobs_settings: Settings, broker: ServerProcess, mongo_url: str, redis_server: ServerProcess,
              tmp_path: Path) -> ScaleOut:
    bootstrap = f"127.0.0.1:{broker.port}"
    settings = scale_out_settings(jobs_settings, bootstrap, mongo_url, redis_server.port, tmp_path / "data")
    built = ScaleOut(settings, bootstrap)
    create_topics(bootstrap, built.topics)
    return built
