"""Hostile requests through a real uvicorn + the gateway + the session's real Triton: none may
cost a 500, the connection, the request id, or memory the size of what the client sends."""

from __future__ import annotations

import asyncio
import http.server
import io
import json
import re
import select
import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient
from job_polling import wait_for_job
from live_gateway import raw_request, read_response, serve
from loguru import logger
from PIL import Image
from sample_documents import png_page

from docserve.api.app import create_app
from docserve.api.dependencies import get_catalog
from docserve.api.jobs.callbacks import CallbackSender
from docserve.api.jobs.records import JobRequest
from docserve.api.jobs.sqlite_jobs import SqliteJobs


@pytest.fixture
def jobs_api(jobs_settings, probe_pipeline):
    with TestClient(create_app(jobs_settings)) as client:
        yield client


def _job(request_id: str, location: str) -> dict:
    return {"request_id": request_id, "pipeline": "page_probe_pipeline", "location": location}


# -- a 500 must not take the connection or the request id with it ------------------------------


def test_a_nul_byte_in_a_file_location_is_422_location_refused(jobs_api, inbox):
    response = jobs_api.post("/api/v1/jobs", json=_job("nul-1", f"file://{inbox}/a%00b"),
                             headers={"X-Request-ID": "nul-1"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "location_refused"
    assert response.headers["x-request-id"] == "nul-1"


@pytest.mark.parametrize("location", ["http://[::1/doc.png", "http://host:99999/doc.png"])
def test_unparsable_urls_are_422_not_500(jobs_api, location):
    response = jobs_api.post("/api/v1/jobs", json=_job("bad-url", location))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_document"


def test_an_injected_bug_answers_json_500_with_the_id_and_the_connection_stays(triton_settings):
    class BrokenCatalog:
        async def all(self):
            raise RuntimeError("injected bug")

    app = create_app(triton_settings)
    app.dependency_overrides[get_catalog] = BrokenCatalog
    with serve(app) as address, socket.create_connection(address, timeout=10) as sock:
        status, headers, body = raw_request(
            sock, b"GET /api/v1/pipelines HTTP/1.1\r\nHost: x\r\nX-Request-ID: bug-1\r\n\r\n"
        )
        assert status == 500
        assert json.loads(body) == {"error": {"code": "internal_error",
                                              "message": "internal error; see the gateway log"}}
        assert headers["x-request-id"] == "bug-1"
        status, _, body = raw_request(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # same socket
        assert (status, json.loads(body)) == (200, {"status": "ok"})


# -- request bodies are limited while they are read ---------------------------------------------


@pytest.fixture
def small_bodies(triton_settings):
    """A gateway whose JSON bodies may be 256 KiB, documents 1 MiB."""
    settings = triton_settings.model_copy(update={"max_json_body_bytes": 256 * 1024,
                                                  "max_document_bytes": 1024 * 1024})
    with serve(create_app(settings)) as address:
        yield address


def test_a_declared_content_length_over_the_limit_is_413_before_any_byte(small_bodies):
    with socket.create_connection(small_bodies, timeout=10) as sock:
        started = time.monotonic()
        status, headers, body = raw_request(sock, (
            b"POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-Request-ID: big-1\r\nContent-Length: 200000000\r\n\r\n"
        ))  # and not one byte of the 200 MB
    assert time.monotonic() - started < 5
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    assert "262144 bytes" in json.loads(body)["error"]["message"]
    assert headers["x-request-id"] == "big-1"


def _stream_until_answered(
    address, path: str, content_type: str, chunk: bytes, most: int, first: bytes = b""
) -> tuple[int, int]:
    """POST a chunked body (``first``, then ``chunk`` after ``chunk``) until the server answers;
    ``(status, bytes sent)``."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        if first:
            sock.sendall(f"{len(first):x}\r\n".encode() + first + b"\r\n")
        sent = len(first)
        while sent < most and not select.select([sock], [], [], 0.01)[0]:
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
        status, _, _ = read_response(sock)
    return status, sent


def test_a_streamed_json_body_is_refused_as_it_passes_the_limit(small_bodies):
    status, sent = _stream_until_answered(small_bodies, "/api/v1/predict", "application/json",
                                          b" " * 16384, most=64 * 1024 * 1024)
    assert status == 413
    assert sent < 4 * 1024 * 1024  # answered near the 256 KiB limit, not after the 64 MiB


def test_uploads_may_be_as_large_as_a_document_but_not_larger(small_bodies):
    # 512 KiB of upload to a route that takes documents: past the JSON limit, within the document's.
    boundary = "xyz"
    part_head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; "
                 "filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").encode()
    payload = part_head + b"\0" * (512 * 1024) + f"\r\n--{boundary}--\r\n".encode()
    head = (f"POST /api/v1/pipelines/no-such-pipeline/predict HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n")
    with socket.create_connection(small_bodies, timeout=10) as sock:
        status, _, body = raw_request(sock, head.encode() + payload)
    assert status == 404, body  # got past the body limit to the pipeline lookup
    status, sent = _stream_until_answered(small_bodies, "/api/v1/pipelines/ocr/predict",
                                          f"multipart/form-data; boundary={boundary}", b"\0" * 16384,
                                          most=64 * 1024 * 1024, first=part_head)
    assert status == 413
    assert 1024 * 1024 < sent < 8 * 1024 * 1024
    # The same 512 KiB as multipart to the JSON-only car route: the JSON limit applies.
    status, sent = _stream_until_answered(small_bodies, "/api/v1/predict",
                                          f"multipart/form-data; boundary={boundary}", b"\0" * 16384,
                                          most=64 * 1024 * 1024, first=part_head)
    assert status == 413
    assert sent < 1024 * 1024


# -- request ids that do not survive a URL -------------------------------------------------------


@pytest.mark.parametrize("request_id", [".", "..", "...", "a/b", "a b", "%2e", "x" * 129])
def test_request_ids_outside_the_grammar_are_422(jobs_api, inbox, request_id):
    (inbox / "p.png").write_bytes(b"")
    response = jobs_api.post("/api/v1/jobs", json=_job(request_id, f"file://{inbox}/p.png"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["details"][0]["location"] == ["body", "request_id"]


@pytest.mark.parametrize("request_id", [".a", "a..b", "-", "urn:x:1", "_"])
def test_request_ids_inside_the_grammar_are_reachable(jobs_api, inbox, request_id):
    (inbox / "p.png").write_bytes(b"")
    response = jobs_api.post("/api/v1/jobs", json=_job(request_id, f"file://{inbox}/p.png"))
    assert response.status_code == 202, response.text
    assert jobs_api.get(response.headers["location"]).json()["request_id"] == request_id


# -- every error in the project's envelope ------------------------------------------------------


def test_unknown_routes_and_methods_use_the_error_envelope(jobs_api):
    response = jobs_api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response = jobs_api.put("/api/v1/jobs")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_unparsable_bodies_use_the_error_envelope(jobs_api):
    response = jobs_api.post("/api/v1/jobs", content=b"{not json",
                             headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    response = jobs_api.post("/api/v1/pipelines/page_probe_pipeline/predict", content=b"--x\r\ngarbage",
                             headers={"content-type": "multipart/form-data; boundary=x"})
    assert 400 <= response.status_code < 500
    assert set(response.json()) == {"error"}, response.text


# -- a fetch has one deadline, for http(s) and S3 alike ---------------------------------------


class _DripHandler(http.server.BaseHTTPRequestHandler):
    """Answers every GET (an http document or a path-style S3 object) with 100 bytes, one every
    0.1 s: each read is quick, the whole body takes 10 s."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:  # the gateway hung up: what it should do
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def drip_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DripHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("scheme", ["http", "s3"])
def test_a_slow_drip_fetch_ends_at_the_total_deadline(jobs_settings, probe_pipeline, drip_server, scheme,
                                                      monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    settings = jobs_settings.model_copy(update={
        "allow_private_hosts": True, "fetch_timeout_s": 1.5, "s3_endpoint_url": drip_server,
        "job_max_attempts": 1,
    })
    location = f"{drip_server}/doc.png" if scheme == "http" else "s3://documents/doc.png"
    with TestClient(create_app(settings)) as client:
        started = time.monotonic()
        response = client.post("/api/v1/pipelines/page_probe_pipeline/predict", json={"location": location})
        assert time.monotonic() - started < 5
        assert response.status_code == 502, response.text
        error = response.json()["error"]
        assert error["code"] == "fetch_failed"
        assert "did not finish within 1.5s" in error["message"]
        started = time.monotonic()
        client.post("/api/v1/jobs", json=_job(f"drip-{scheme}", location))
        job = wait_for_job(client, f"drip-{scheme}", timeout_s=20)
        assert time.monotonic() - started < 5  # the worker is free again
    assert job["status"] == "failed" and job["error"]["code"] == "fetch_failed"


def test_a_redirect_without_location_and_a_bad_bucket_are_permanent(jobs_settings, probe_pipeline,
                                                                    document_server):
    base, _ = document_server
    settings = jobs_settings.model_copy(update={"allow_private_hosts": True})
    with TestClient(create_app(settings)) as client:
        client.post("/api/v1/jobs", json=_job("no-location", f"{base}/redirect?to="))
        job = wait_for_job(client, "no-location")
        response = client.post("/api/v1/jobs", json=_job("bad-bucket", "s3://Bad_Bucket/doc.png"))
    assert (job["status"], job["error"]["code"], job["attempts"]) == ("failed", "invalid_document", 1)
    assert "without a Location" in job["error"]["message"]
    assert response.status_code == 422
    assert "not an S3 bucket name" in response.json()["error"]["message"]


# -- Retry-After says how long, not always 5 ------------------------------------------------------


def test_retry_after_of_a_full_queue_follows_the_workers_pace(jobs_settings, probe_pipeline, inbox):
    settings = jobs_settings.model_copy(update={"max_queue": 2, "run_workers": False})

    async def finish_30_jobs():
        store = SqliteJobs(settings.jobs_database, max_queue=100)
        for index in range(30):  # 30 jobs finished in the last minute: one every 2 s
            await store.submit(JobRequest(request_id=f"done-{index}", pipeline="p", location="file:///x"))
            await store.succeed(await store.claim("w", lease_s=60, wait_s=0), "w", {})
        await store.close()

    asyncio.run(finish_30_jobs())
    (inbox / "a.png").write_bytes(b"")
    with TestClient(create_app(settings)) as client:
        for index in range(2):
            queued = client.post("/api/v1/jobs", json=_job(f"q-{index}", f"file://{inbox}/a.png"))
            assert queued.status_code == 202
        full = client.post("/api/v1/jobs", json=_job("q-2", f"file://{inbox}/a.png"))
    assert full.status_code == 429
    assert full.headers["retry-after"] == "2"


def test_the_multipart_pages_field_is_capped_like_the_json_one(jobs_api):
    files = {"document": ("p.png", b"\x89PNG\r\n\x1a\n")}
    response = jobs_api.post("/api/v1/pipelines/page_probe_pipeline/predict", files=files,
                             data={"pages": ",".join(["1"] * 1001)})
    assert response.status_code == 422, response.text
    assert "more than 1000 page numbers" in response.json()["error"]["message"]
    response = jobs_api.post("/api/v1/pipelines/page_probe_pipeline/predict", files=files,
                             data={"pages": "1," + "9" * 5000})
    assert response.status_code == 422, response.text


# -- issue 26: what a second hostile run found -------------------------------------------------


def test_multipart_options_nested_deep_get_the_json_bodys_422(jobs_api):
    nested = "[" * 10_000 + "]" * 10_000
    as_json = jobs_api.post("/api/v1/jobs", content=json.dumps(
        {"request_id": "deep-1", "pipeline": "page_probe_pipeline", "location": "file:///x"}
    ).replace("}", f', "options": {nested}}}'), headers={"content-type": "application/json"})
    as_form = jobs_api.post("/api/v1/jobs", data={"request_id": "deep-2", "pipeline": "page_probe_pipeline",
                                                  "options": nested},
                            files={"document": ("p.png", png_page())})
    assert as_json.status_code == as_form.status_code == 422, as_form.text
    assert as_json.json()["error"]["code"] == as_form.json()["error"]["code"] == "validation_error"
    assert as_form.json()["error"]["details"][0]["location"] == ["body", "options"]
    assert "recursion limit" in as_form.json()["error"]["details"][0]["message"]


def test_a_tiff_of_10000_pages_is_refused_at_the_page_limit(jobs_api):
    tiny = [Image.new("L", (1, 1)) for _ in range(10_000)]
    buffer = io.BytesIO()
    tiny[0].save(buffer, format="TIFF", save_all=True, append_images=tiny[1:])
    response = jobs_api.post("/api/v1/jobs", data={"request_id": "tiff-1", "pipeline": "page_probe_pipeline"},
                             files={"document": ("many.tif", buffer.getvalue())})
    assert response.status_code == 413, response.text
    assert response.json()["error"]["message"] == "the TIFF has more than 50 pages; at most 50"


def test_request_headers_over_the_limit_are_431_before_the_rest_is_read(triton_settings):
    with serve(create_app(triton_settings)) as address:
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(b"GET /api/v1/pipelines HTTP/1.1\r\nHost: x\r\nX-API-Key: ")
            sent = 0
            while sent < 64 * 1024 * 1024 and not select.select([sock], [], [], 0.01)[0]:
                sock.sendall(b"k" * 16384)
                sent += 16384
            status, headers, body = read_response(sock)
            assert sock.recv(1) == b""  # and the connection is closed
        assert status == 431
        assert json.loads(body)["error"]["code"] == "request_headers_too_large"
        assert headers["connection"] == "close"
        assert sent < 1024 * 1024  # answered near the 64 KiB limit, not after 64 MiB
        with socket.create_connection(address, timeout=10) as sock:  # a large header within it
            status, _, _ = raw_request(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
                                       + b"b" * 60_000 + b"\r\n\r\n")
        assert status == 200


@pytest.mark.parametrize("url", ["http://0177.0.0.1:18499/cb", " http://example.com/cb"])
def test_urls_the_http_client_cannot_parse_are_refused_at_submission(jobs_api, inbox, url):
    (inbox / "p.png").write_bytes(png_page())
    as_callback = jobs_api.post("/api/v1/jobs", json={**_job("cb-1", f"file://{inbox}/p.png"),
                                                      "callback_url": url})
    as_location = jobs_api.post("/api/v1/jobs", json=_job("loc-1", url))
    for response in (as_callback, as_location):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_document"
    assert "0177.0.0.1" not in url or "Invalid IPv4 address" in as_callback.json()["error"]["message"]


def _callback_of(settings, callback_url: str) -> tuple[bool, str, list[str]]:
    """A finished job stored with ``callback_url`` (as one stored before submissions were
    checked would be), its callback sent: (delivered, callback state, log lines)."""
    lines: list[str] = []

    async def send() -> tuple[bool, str]:
        store = SqliteJobs(settings.jobs_database, max_queue=10)
        await store.submit(JobRequest(request_id="cb", pipeline="p", location="file:///x",
                                      callback_url=callback_url))
        result = {"pipeline": "p", "page_count": 0, "pages": [], "timings": {}}
        await store.succeed(await store.claim("w", lease_s=60, wait_s=0), "w", result)
        sender = CallbackSender(settings, store)
        sink = logger.add(lambda message: lines.append(message.rstrip("\n")), format="{message}")
        try:
            sender.schedule("cb", None)
            await asyncio.wait_for(asyncio.gather(*sender._in_flight.values()), timeout=20)
            delivered = await sender.deliver("cb", None)
            state = (await store.get("cb")).callback_state
        finally:
            logger.remove(sink)
            await sender.close()
            await store.close()
        return delivered, state

    delivered, state = asyncio.run(send())
    return delivered, state, lines


def test_a_stored_callback_url_that_cannot_be_sent_ends_failed_with_its_reason(jobs_settings):
    delivered, state, lines = _callback_of(jobs_settings, "http://0177.0.0.1:18499/cb")
    assert (delivered, state) == (False, "failed")
    assert any("abandoned: the URL cannot be sent to: Invalid IPv4 address" in line for line in lines), lines
    assert not any("unexpectedly" in line for line in lines)


class _SilentReceiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        time.sleep(2)  # longer than the sender waits

    def log_message(self, *args) -> None:
        pass


def test_a_callback_timeout_is_logged_with_its_reason(jobs_settings):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SilentReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = jobs_settings.model_copy(update={"allow_private_hosts": True, "fetch_timeout_s": 0.3,
                                                "callback_attempts": 1})
    try:
        delivered, state, lines = _callback_of(settings, f"http://127.0.0.1:{server.server_address[1]}/cb")
    finally:
        server.shutdown()
    assert (delivered, state) == (False, "failed")
    failed = [line for line in lines if "attempt 1 failed" in line]
    assert failed and all(line.endswith("no answer within 0.3s (ReadTimeout)") for line in failed), lines


def test_the_page_cannot_run_inline_script_be_framed_or_sniffed(jobs_api):
    page = jobs_api.get("/")
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'none'"
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert policy["frame-ancestors"] == "'none'" and page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text and not re.search(r"\son[a-z]+\s*=", page.text)  # no inline code
    for response in (page, jobs_api.get("/static/app.js"), jobs_api.get("/api/v1/pipelines"),
                     jobs_api.get("/api/v1/nothing-here")):
        assert response.headers["x-content-type-options"] == "nosniff", response.url


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://testserver:8080"])
def test_state_changing_requests_from_a_foreign_origin_are_403(jobs_api, inbox, origin):
    (inbox / "p.png").write_bytes(png_page())
    upload = jobs_api.post("/api/v1/jobs", data={"request_id": "x-origin", "pipeline": "page_probe_pipeline"},
                           files={"document": ("p.png", png_page())}, headers={"Origin": origin})
    cancel = jobs_api.delete("/api/v1/jobs/x-origin", headers={"Origin": origin})
    assert upload.status_code == cancel.status_code == 403, upload.text
    assert upload.json()["error"]["code"] == "origin_refused"
    assert jobs_api.get("/api/v1/jobs/x-origin").status_code == 404  # no job was made
    assert jobs_api.get("/api/v1/pipelines", headers={"Origin": origin}).status_code == 200  # reads: CORS'


@pytest.mark.parametrize("origin", ["http://testserver", "http://localhost:8080", None])
def test_the_pages_own_origin_an_allowed_one_and_no_origin_may_write(jobs_api, inbox, origin):
    (inbox / "p.png").write_bytes(png_page())
    headers = {"Origin": origin} if origin else {}
    response = jobs_api.post("/api/v1/jobs", json=_job("same", f"file://{inbox}/p.png"), headers=headers)
    assert response.status_code == 202, response.text


def _wide_page(width: int = 60_000, height: int = 1) -> bytes:
    return png_page(width, height)


def test_a_page_under_the_pipelines_minimum_side_is_422_before_queueing(jobs_settings, inbox):
    (inbox / "wide.png").write_bytes(_wide_page())
    with TestClient(create_app(jobs_settings)) as client:
        upload = client.post("/api/v1/jobs", data={"request_id": "wide-1", "pipeline": "signature_check"},
                             files={"document": ("wide.png", _wide_page())})
        not_queued = client.get("/api/v1/jobs/wide-1")
        sync = client.post("/api/v1/pipelines/signature_check/predict",
                           files={"document": ("wide.png", _wide_page())})
        probe = client.post("/api/v1/pipelines/page_probe_pipeline/predict",  # no minimum there
                            files={"document": ("wide.png", _wide_page())})
        client.post("/api/v1/jobs", json={"request_id": "wide-2", "pipeline": "signature_check",
                                          "location": f"file://{inbox}/wide.png"})
        fetched = wait_for_job(client, "wide-2")
    message = "the image is 60000x1 pixels: too small for a page of this pipeline (minimum side 64)"
    for response in (upload, sync):
        assert response.status_code == 422, response.text
        assert response.json()["error"] == {"code": "invalid_document", "message": message}
    assert not_queued.status_code == 404
    assert probe.status_code == 200, probe.text
    # A fetched document is checked by the worker the same way, before any page reaches Triton.
    assert (fetched["status"], fetched["error"], fetched["attempts"]) == (
        "failed", {"code": "invalid_document", "message": message}, 1)


def test_parameter_errors_name_the_parameter_not_the_body(jobs_api):
    wait = jobs_api.get("/api/v1/jobs/x?wait=99").json()["error"]
    page = jobs_api.get("/api/v1/jobs/x/pages/0/image").json()["error"]
    assert wait["message"] == "query parameter 'wait' is invalid: Input should be less than or equal to 30"
    assert page["message"].startswith("path parameter 'page' is invalid: ")
    assert wait["code"] == page["code"] == "validation_error"
