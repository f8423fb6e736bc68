"""Session-wide fixtures: ONE real embedded Triton per pytest run, serving both repositories."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import tritonclient.http as httpclient
from sample_documents import FIXTURE_REPOSITORY

from docserve.api.embedded_triton import EmbeddedTriton, TritonOptions, TritonPorts, free_port
from docserve.api.settings import Settings
from docserve.contract.model_repositories import PROJECT_ROOT

MODEL_REPOSITORIES = [PROJECT_ROOT / "model_repository", PROJECT_ROOT / "ensembles"]


@pytest.fixture(scope="session")
def best_car() -> dict[str, str]:
    """A car the rule table rates 'vgood'."""
    return {"buying": "low", "maint": "low", "doors": "4", "persons": "more",
            "lug_boot": "big", "safety": "high"}


@pytest.fixture(scope="session")
def worst_car() -> dict[str, str]:
    """A car the rule table rates 'unacc'."""
    return {"buying": "vhigh", "maint": "vhigh", "doors": "2", "persons": "2",
            "lug_boot": "small", "safety": "low"}


def triton_log_path(work_dir: Path) -> Path:
    return work_dir / "tritonserver.log"


@pytest.fixture(scope="session")
def scratch_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A third, initially empty repository of the session's Triton, for tests that add models
    and load them through Triton's model-control API (rollouts, live discovery)."""
    return tmp_path_factory.mktemp("scratch_repository")


@pytest.fixture(scope="session")
def triton(tmp_path_factory: pytest.TempPathFactory, scratch_repository: Path) -> Iterator[EmbeddedTriton]:
    """The real Triton 2.51 from nvidia-pytriton, with every model of the repository loaded."""
    work_dir = tmp_path_factory.mktemp("triton")
    log = triton_log_path(work_dir).open("w", encoding="utf-8")
    server = EmbeddedTriton(
        TritonOptions(
            model_repositories=[*MODEL_REPOSITORIES, scratch_repository],
            work_dir=work_dir,
            ports=TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port()),
        ),
        log_sink=lambda line: print(line, file=log, flush=True),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        log.close()


@pytest.fixture(scope="session")
def triton_settings(triton: EmbeddedTriton, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Gateway settings pointing at the session's Triton."""
    ports = triton.options.ports
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        triton_http_port=ports.http,
        triton_grpc_port=ports.grpc,
        triton_metrics_port=ports.metrics,
        log_json=False,
    )


@pytest.fixture(scope="session")
def probe_pipeline(triton, scratch_repository: Path) -> str:
    """A minimal real document pipeline (page size + checksum) loaded into the session's Triton."""
    client = httpclient.InferenceServerClient(triton.http_url)
    for model in ("page_probe", "page_probe_pipeline"):
        shutil.copytree(FIXTURE_REPOSITORY / model, scratch_repository / model, dirs_exist_ok=True)
        client.load_model(model)
    return "page_probe_pipeline"


class _DocumentHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``documents`` by path; ``/redirect?to=URL`` redirects; ``/slow/...`` waits first."""

    documents: ClassVar[dict[str, bytes]] = {}
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query.removeprefix("to="))
            self.end_headers()
            return
        if path.startswith("/slow/"):
            time.sleep(3)
            path = path.removeprefix("/slow")
        if path.startswith("/status/"):
            self.send_response(int(path.removeprefix("/status/")))
            self.end_headers()
            return
        body = self.documents.get(path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((self.path, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="session")
def document_server() -> Iterator[tuple[str, type[_DocumentHandler]]]:
    """A real HTTP server on 127.0.0.1 (reachable only with allow_private_hosts)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DocumentHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _DocumentHandler
    server.shutdown()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3 API (moto_server) on a free loopback port, with test credentials in the env."""
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1")
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    yield endpoint
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MongoDB wire-protocol server (nx-27017) on a free loopback port."""
    from real_servers import mongo_wire

    server = mongo_wire(tmp_path_factory.mktemp("mongo")).start()
    yield f"mongodb://127.0.0.1:{server.port}/?directConnection=true"
    server.stop()
