"""The jobs API end to end: HTTP -> SQLite queue -> workers -> fetch -> real Triton -> result."""

from __future__ import annotations

import hashlib
import json
import os
import time

import boto3
import pytest
from fastapi.testclient import TestClient
from job_polling import wait_for_job
from sample_documents import pdf_document, png_page

from docserve.api.app import create_app


@pytest.fixture
def jobs_api(jobs_settings, probe_pipeline):
    with TestClient(create_app(jobs_settings)) as client:
        yield client


def _submit(client, request_id, location, pipeline="page_probe_pipeline", **extra):
    body = {"request_id": request_id, "pipeline": pipeline, "location": location, **extra}
    return client.post("/api/v1/jobs", json=body)


def test_file_location_happy_path(jobs_api, inbox):
    page = png_page(320, 200)
    (inbox / "page.png").write_bytes(page)
    response = _submit(jobs_api, "file-1", f"file://{inbox / 'page.png'}")
    assert response.status_code == 202
    assert response.headers["location"] == "/api/v1/jobs/file-1"
    assert response.json()["status"] in ("queued", "processing", "succeeded")
    job = wait_for_job(jobs_api, "file-1")
    assert job["status"] == "succeeded", job
    assert job["attempts"] == 1 and job["error"] is None
    assert job["started_at"] and job["finished_at"]
    (page_result,) = job["result"]["pages"]
    assert page_result["page"] == 1
    result = page_result["result"]
    assert (result["schema_version"], result["page"]) == ("1.0", {"width": 320, "height": 200})
    assert result["probe"] == {"format": "PNG", "sha256": hashlib.sha256(page).hexdigest()}


def test_pdf_pages_are_rasterized_and_selectable(jobs_api, inbox):
    (inbox / "three.pdf").write_bytes(pdf_document([(300, 400), (400, 300), (200, 200)]))
    response = _submit(jobs_api, "pdf-1", f"file://{inbox}/three.pdf", options={"pages": [3, 1]})
    assert response.status_code == 202
    job = wait_for_job(jobs_api, "pdf-1")
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert result["page_count"] == 3
    assert [page["page"] for page in result["pages"]] == [1, 3]
    # 150 dpi (the default): 300 x 400 pt -> 625 x 833.3 px, which pdfium rounds up.
    first_page = result["pages"][0]["result"]["page"]
    assert (first_page["width"], first_page["height"]) == (625, 834)
    assert result["pages"][1]["result"]["page"]["width"] == 417


def test_http_location_and_callback(jobs_settings, probe_pipeline, document_server):
    base, handler = document_server
    handler.documents["/scan.png"] = png_page(111, 222)
    settings = jobs_settings.model_copy(update={"allow_private_hosts": True})
    with TestClient(create_app(settings)) as client:
        response = _submit(client, "http-1", f"{base}/redirect?to=/scan.png",
                           callback_url=f"{base}/hooks/done")
        assert response.status_code == 202
        job = wait_for_job(client, "http-1")
        assert job["status"] == "succeeded", job
        assert job["result"]["pages"][0]["result"]["page"]["width"] == 111
        for _ in range(100):  # the callback is sent right after the job is stored
            hits = [body for path, body in handler.received if path == "/hooks/done"]
            if hits:
                break
            time.sleep(0.05)
        delivered = json.loads(hits[0])
        assert delivered["request_id"] == "http-1" and delivered["status"] == "succeeded"


def test_s3_location(jobs_settings, probe_pipeline, s3_server):
    s3 = boto3.client("s3", endpoint_url=s3_server)
    s3.create_bucket(Bucket="documents")
    s3.put_object(Bucket="documents", Key="in/scan one.png", Body=png_page(64, 48))
    settings = jobs_settings.model_copy(update={"s3_endpoint_url": s3_server})
    with TestClient(create_app(settings)) as client:
        assert _submit(client, "s3-1", "s3://documents/in/scan%20one.png").status_code == 202
        job = wait_for_job(client, "s3-1")
        assert job["status"] == "succeeded", job
        assert job["result"]["pages"][0]["result"]["page"]["height"] == 48
        assert _submit(client, "s3-2", "s3://documents/in/missing.png").status_code == 202
        missing = wait_for_job(client, "s3-2")
        assert missing["status"] == "failed" and missing["error"]["code"] == "document_not_found"
        assert missing["attempts"] == 1  # permanent: no retry


def test_idempotent_on_request_id_and_409_on_a_different_body(jobs_api, inbox):
    (inbox / "a.png").write_bytes(png_page())
    first = _submit(jobs_api, "same-1", f"file://{inbox}/a.png")
    again = _submit(jobs_api, "same-1", f"file://{inbox}/a.png")
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["created_at"] == first.json()["created_at"]
    conflict = _submit(jobs_api, "same-1", f"file://{inbox}/a.png", options={"pages": [1]})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict"
    listed = jobs_api.get("/api/v1/jobs", params={"limit": 10}).json()
    assert [job["request_id"] for job in listed["jobs"]].count("same-1") == 1


@pytest.mark.parametrize(
    ("location", "code"),
    [
        ("ftp://example.com/a.pdf", "invalid_document"),
        ("s3://bucket-only", "invalid_document"),
        ("file://relative/path.png", "invalid_document"),
        ("not a url", "invalid_document"),
        ("http://user:secret@example.com/a.png", "invalid_document"),
    ],
)
def test_malformed_locations_are_422(jobs_api, location, code):
    response = _submit(jobs_api, "bad-location", location)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code


def test_unknown_pipeline_is_404_naming_the_known_ones(jobs_api, inbox):
    response = _submit(jobs_api, "nope-1", f"file://{inbox}/a.png", pipeline="no_such_pipeline")
    assert response.status_code == 404
    assert "page_probe_pipeline" in response.json()["error"]["message"]
    assert jobs_api.get("/api/v1/jobs/never-submitted").status_code == 404


def test_car_evaluation_is_not_a_document_pipeline(jobs_api, inbox):
    assert _submit(jobs_api, "car-1", f"file://{inbox}/a.png", pipeline="car_evaluation").status_code == 404


def test_bad_bodies_are_422(jobs_api, inbox):
    for body in ({"request_id": "x"}, {"request_id": "a b", "pipeline": "p", "location": "file:///x"},
                 {"request_id": "x", "pipeline": "p", "location": "file:///x", "options": {"dpi": 3}}):
        response = jobs_api.post("/api/v1/jobs", json=body)
        assert response.status_code == 422, body


@pytest.mark.parametrize(
    "location",
    ["http://127.0.0.1:8080/a.png", "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/a.pdf",
     "http://[::1]/a.png", "http://localhost/a.png", "http://[::ffff:127.0.0.1]/a.png"],
)
def test_ssrf_targets_are_refused_at_submission(jobs_api, location):
    response = _submit(jobs_api, "ssrf-1", location)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "location_refused"
    assert "internal networks" in error["message"]


def test_ssrf_through_a_name_resolved_at_fetch_time_fails_the_job(jobs_api):
    """2130706433 is 127.0.0.1 as an integer: only the connect-time guard can see it."""
    assert _submit(jobs_api, "ssrf-int", "http://2130706433/a.png").status_code == 202
    job = wait_for_job(jobs_api, "ssrf-int")
    assert job["status"] == "failed"
    assert job["error"]["code"] == "location_refused" and "127.0.0.1" in job["error"]["message"]
    assert job["attempts"] == 1


def test_callback_url_is_held_to_the_same_rules(jobs_api, inbox):
    (inbox / "a.png").write_bytes(png_page())
    response = _submit(jobs_api, "cb-1", f"file://{inbox}/a.png", callback_url="http://169.254.169.254/x")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "location_refused"


def test_file_locations_outside_the_roots_are_refused(jobs_api, inbox, tmp_path):
    outside = tmp_path / "secret.png"
    outside.write_bytes(png_page())
    (inbox / "link.png").symlink_to(outside)
    for location in ("file:///etc/passwd", f"file://{inbox}/../secret.png", f"file://{inbox}/link.png"):
        response = _submit(jobs_api, "escape-1", location)
        assert response.status_code == 422, location
        assert response.json()["error"]["code"] == "location_refused"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"\x89PNG\r\n\x1a\n" + os.urandom(200), "invalid_document"),
        (b"just some text, not a document", "unsupported_document"),
        (b"", "unsupported_document"),
    ],
)
def test_bad_documents_fail_at_once_with_a_typed_code(jobs_api, inbox, content, code):
    (inbox / "bad.bin").write_bytes(content)
    assert _submit(jobs_api, f"bad-{code}-{len(content)}", f"file://{inbox}/bad.bin").status_code == 202
    job = wait_for_job(jobs_api, f"bad-{code}-{len(content)}")
    assert job["status"] == "failed" and job["attempts"] == 1
    assert job["error"]["code"] == code


def test_decompression_bomb_is_refused_from_its_header(jobs_api, inbox):
    bomb = _png_header_only(60_000, 60_000)  # 3.6 gigapixels declared, a few bytes of data
    (inbox / "bomb.png").write_bytes(bomb)
    _submit(jobs_api, "bomb-1", f"file://{inbox}/bomb.png")
    job = wait_for_job(jobs_api, "bomb-1")
    assert job["status"] == "failed"
    assert job["error"]["code"] == "document_too_large"
    assert "60000x60000" in job["error"]["message"]


def _png_header_only(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def test_too_large_documents_are_refused(jobs_settings, probe_pipeline, inbox):
    (inbox / "big.png").write_bytes(png_page(400, 400, shade=17))
    settings = jobs_settings.model_copy(update={"max_document_bytes": 100})
    with TestClient(create_app(settings)) as client:
        _submit(client, "big-1", f"file://{inbox}/big.png")
        job = wait_for_job(client, "big-1")
    assert job["error"]["code"] == "document_too_large"


def test_queue_bound_gives_429_with_retry_after_and_cancel(jobs_settings, probe_pipeline, inbox):
    (inbox / "a.png").write_bytes(png_page())
    settings = jobs_settings.model_copy(update={"max_queue": 2, "run_workers": False})
    with TestClient(create_app(settings)) as client:
        for index in range(2):
            assert _submit(client, f"q-{index}", f"file://{inbox}/a.png").status_code == 202
        full = _submit(client, "q-2", f"file://{inbox}/a.png")
        assert full.status_code == 429
        assert full.headers["retry-after"] == "60"  # nothing finished lately: the longest wait
        assert full.json()["error"]["code"] == "queue_full"
        # A repeat of an accepted job is still answered while the queue is full.
        assert _submit(client, "q-0", f"file://{inbox}/a.png").status_code == 200
        cancelled = client.delete("/api/v1/jobs/q-0")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert client.delete("/api/v1/jobs/q-0").status_code == 409
        assert _submit(client, "q-2", f"file://{inbox}/a.png").status_code == 202
        listed = client.get("/api/v1/jobs", params={"status": "queued"}).json()
        assert {job["request_id"] for job in listed["jobs"]} == {"q-1", "q-2"}
        assert listed["counts"] == {"queued": 2, "cancelled": 1}
