"""An app wired to the session's real Triton, driven through HTTP routing by httpx."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient

from docserve.api.app import create_app
from docserve.api.embedded_triton import free_port
from docserve.api.settings import Settings


@pytest.fixture(scope="module")
def api(triton_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(triton_settings)) as client:
        yield client


# -- documents and the servers they live on -----------------------------------------------------


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


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def jobs_settings(triton_settings: Settings, tmp_path: Path, inbox: Path) -> Settings:
    """Fresh store, one allowed file root, fast retries: what job tests start from."""
    return triton_settings.model_copy(update={
        "data_dir": tmp_path / "data", "file_roots": [inbox], "worker_concurrency": 2,
        "job_retry_base_s": 0.05, "job_lease_s": 3.0, "fetch_timeout_s": 5.0,
    })
