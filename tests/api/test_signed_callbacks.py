"""Signed callbacks through the real gateway, workers and Triton, checked with the client's
``verify_callback`` as a receiver would."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from job_polling import wait_for_job
from pydantic import SecretStr
from sample_documents import png_page

from docserve.api.app import create_app
from docserve.client import InvalidCallbackSignature, verify_callback

SECRET = "s3cr3t-for-tests"


class _Receiver(http.server.BaseHTTPRequestHandler):
    deliveries: list[tuple[dict[str, str], bytes]] = []  # noqa: RUF012 - one receiver per test run

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.deliveries.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list]]:
    _Receiver.deliveries = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.deliveries
    server.shutdown()


def _delivered(deliveries: list, timeout_s: float = 10.0) -> tuple[dict[str, str], bytes]:
    deadline = time.monotonic() + timeout_s
    while not deliveries and time.monotonic() < deadline:
        time.sleep(0.05)
    assert deliveries, "no callback arrived"
    return deliveries[0]


def _run_job(settings, inbox, receiver: tuple[str, list]) -> tuple[dict[str, str], bytes]:
    """One job with a callback; the callback as the receiver got it."""
    url, deliveries = receiver
    (inbox / "page.png").write_bytes(png_page(50, 40))
    with TestClient(create_app(settings)) as client:
        body = {"request_id": "signed-1", "pipeline": "page_probe_pipeline",
                "location": f"file://{inbox}/page.png", "callback_url": url}
        assert client.post("/api/v1/jobs", json=body).status_code == 202
        assert wait_for_job(client, "signed-1")["status"] == "succeeded"
        return _delivered(deliveries)


def test_every_callback_is_signed_and_verifies(jobs_settings, probe_pipeline, inbox, receiver):
    settings = jobs_settings.model_copy(
        update={"allow_private_hosts": True, "callback_secret": SecretStr(SECRET)}
    )
    headers, body = _run_job(settings, inbox, receiver)
    assert headers["X-Docserve-Signature"].startswith("sha256=")
    verify_callback(headers, body, SECRET)  # raises if anything is off
    with pytest.raises(InvalidCallbackSignature, match="does not match"):
        verify_callback(headers, body.replace(b"succeeded", b"failed"), SECRET)
    with pytest.raises(InvalidCallbackSignature, match="does not match"):
        verify_callback(headers, body, "another secret")
    with pytest.raises(InvalidCallbackSignature, match="signed"):
        verify_callback(headers, body, SECRET, now=int(headers["X-Docserve-Timestamp"]) + 301)
    without = {name: value for name, value in headers.items() if name != "X-Docserve-Signature"}
    with pytest.raises(InvalidCallbackSignature, match="missing"):
        verify_callback(without, body, SECRET)


def test_without_a_secret_callbacks_carry_no_signature(jobs_settings, probe_pipeline, inbox, receiver):
    headers, _ = _run_job(jobs_settings.model_copy(update={"allow_private_hosts": True}), inbox, receiver)
    assert "X-Docserve-Signature" not in headers
