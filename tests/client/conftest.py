"""A live gateway (uvicorn on a free port) over the session's Triton, for client tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from docserve.api.app import create_app
from docserve.api.embedded_triton import free_port
from docserve.api.settings import Settings


@pytest.fixture(scope="module")
def live_gateway(triton_settings: Settings, tmp_path_factory, probe_pipeline) -> Iterator[tuple[str, Path]]:
    inbox = tmp_path_factory.mktemp("client_inbox")
    settings = triton_settings.model_copy(update={
        "port": free_port(), "data_dir": tmp_path_factory.mktemp("client_data"), "file_roots": [inbox],
        "job_retry_base_s": 0.05, "allow_private_hosts": True,  # the slow document server is local
    })
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{settings.port}", inbox
    server.should_exit = True
    thread.join(timeout=10)
