"""Jobs by upload: multipart POST /api/v1/jobs -> durable file under the data dir -> real Triton.

The probe pipeline answers each page's size and sha256, so a result proves which bytes ran.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import time
from itertools import pairwise

import pytest
from fastapi.testclient import TestClient
from job_polling import wait_for_job
from sample_documents import pdf_document, png_page

from docserve.api.app import create_app
from docserve.api.jobs.records import JobRequest
from docserve.api.jobs.sqlite_jobs import SqliteJobs
from docserve.api.jobs.uploads import SWEEP_GRACE_S, UploadStore

PIPELINE = "page_probe_pipeline"


def _upload(client: TestClient, request_id: str, document: bytes, name: str = "scan.png", **fields):
    form = {"request_id": request_id, "pipeline": PIPELINE, **fields}
    return client.post("/api/v1/jobs", data=form, files={"document": (name, document)})


def _stored(settings) -> list[str]:
    """Files under the uploads folder, half-received ones included."""
    root = settings.uploads_dir
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


@pytest.fixture
def queue_only(jobs_settings):
    """A gateway whose queue nobody drains: what is stored before 202 stays there to be seen."""
    settings = jobs_settings.model_copy(update={"run_workers": False})
    with TestClient(create_app(settings)) as client:
        yield client, settings


@pytest.fixture
def uploads_api(jobs_settings, probe_pipeline):
    with TestClient(create_app(jobs_settings)) as client:
        yield client, jobs_settings


def test_an_upload_is_stored_durably_before_202_and_deleted_on_cancel(queue_only, probe_pipeline):
    client, settings = queue_only
    page = png_page(90, 60)
    response = _upload(client, "up-1", page)
    assert response.status_code == 202, response.text
    digest = hashlib.sha256(page).hexdigest()
    assert response.json()["location"] == f"upload:sha256:{digest}"
    assert response.json()["status"] == "queued"
    (stored,) = _stored(settings)
    assert stored == f"~/up-1.{digest}.document"  # the anonymous owner's folder
    assert (settings.uploads_dir / stored).read_bytes() == page
    assert client.delete("/api/v1/jobs/up-1").json()["status"] == "cancelled"
    assert _stored(settings) == []


def test_an_uploaded_job_runs_on_the_uploaded_bytes_then_the_file_goes(uploads_api):
    client, settings = uploads_api
    document = pdf_document([(72, 72), (144, 72)])
    response = _upload(client, "up-2", document, "two.pdf", options=json.dumps({"pages": [2]}))
    assert response.status_code == 202, response.text
    job = wait_for_job(client, "up-2")
    assert job["status"] == "succeeded", job
    assert job["result"]["page_count"] == 2
    assert [page["page"] for page in job["result"]["pages"]] == [2]
    assert job["result"]["pages"][0]["result"]["page"]["width"] == 300  # 144 pt at 150 dpi
    assert _stored(settings) == []


def test_same_bytes_same_job_other_bytes_409(queue_only, probe_pipeline):
    client, settings = queue_only
    first = _upload(client, "up-3", png_page(10, 10))
    again = _upload(client, "up-3", png_page(10, 10), "renamed.png")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["created_at"] == first.json()["created_at"]
    other = _upload(client, "up-3", png_page(11, 10))
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
    assert _stored(settings) == [f"~/up-3.{hashlib.sha256(png_page(10, 10)).hexdigest()}.document"]
    assert client.get("/api/v1/jobs", params={"limit": 10}).json()["counts"] == {"queued": 1}


def test_a_location_job_and_an_upload_cannot_share_a_request_id(queue_only, probe_pipeline, inbox):
    client, _ = queue_only
    (inbox / "a.png").write_bytes(png_page())
    body = {"request_id": "up-4", "pipeline": PIPELINE, "location": f"file://{inbox}/a.png"}
    assert client.post("/api/v1/jobs", json=body).status_code == 202
    assert _upload(client, "up-4", png_page()).status_code == 409


BAD_UPLOADS = [
    (b"", "scan.png", 422, "invalid_document"),
    (b"just some text, not a scan", "notes.txt", 415, "unsupported_document"),
    (b"\x89PNG\r\n\x1a\nbroken", "broken.png", 422, "invalid_document"),
    (pdf_document([(72, 72)] * 4), "long.pdf", 413, "document_too_large"),
    (png_page(200, 200), "huge.png", 413, "document_too_large"),
]


@pytest.mark.parametrize(("document", "name", "status", "code"), BAD_UPLOADS)
def test_bad_uploads_are_typed_4xx_and_nothing_is_stored(jobs_settings, probe_pipeline, document, name,
                                                         status, code):
    limits = {"run_workers": False, "max_pages": 3, "max_page_pixels": 200 * 199}
    with TestClient(create_app(jobs_settings.model_copy(update=limits))) as client:
        response = _upload(client, "bad-1", document, name)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        assert client.get("/api/v1/jobs/bad-1").status_code == 404
    assert _stored(jobs_settings) == []


def test_an_upload_over_the_byte_limit_is_413(jobs_settings, probe_pipeline):
    settings = jobs_settings.model_copy(update={"run_workers": False, "max_document_bytes": 1000})
    with TestClient(create_app(settings)) as client:
        response = _upload(client, "big-1", png_page(400, 400, shade=7) + b"\0" * 2000)
        assert response.status_code == 413 and response.json()["error"]["code"] == "document_too_large"
    assert _stored(settings) == []


def test_malformed_multipart_fields_and_bodies(queue_only, probe_pipeline):
    client, settings = queue_only
    no_file = client.post("/api/v1/jobs", data={"request_id": "m-1", "pipeline": PIPELINE},
                          files={"other": ("x.png", png_page())})
    assert no_file.status_code == 422
    missing_id = client.post("/api/v1/jobs", data={"pipeline": PIPELINE},
                             files={"document": ("x.png", png_page())})
    assert missing_id.status_code == 422 and missing_id.json()["error"]["code"] == "validation_error"
    bad_options = _upload(client, "m-2", png_page(), options="{not json")
    assert bad_options.status_code == 422 and bad_options.json()["error"]["code"] == "validation_error"
    unknown_pipeline = _upload(client, "m-3", png_page(), pipeline="nope")
    assert unknown_pipeline.status_code == 404
    boundary = "docserve-test-boundary"
    truncated = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"request_id\"\r\n\r\nm-4\r\n"
                 f"--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.png\"\r\n"
                 "Content-Type: image/png\r\n\r\n").encode() + png_page()[:40]
    cut = client.post("/api/v1/jobs", content=truncated,
                      headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert cut.status_code == 400, cut.text
    assert cut.json()["error"]["code"] == "malformed_body"
    assert client.get("/api/v1/jobs/m-4").status_code == 404
    assert _stored(settings) == []


def test_the_openapi_shows_both_request_bodies(queue_only):
    client, _ = queue_only
    spec = client.get("/openapi.json").json()
    content = spec["paths"]["/api/v1/jobs"]["post"]["requestBody"]["content"]
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/JobSubmission"}
    assert "location" in spec["components"]["schemas"]["JobSubmission"]["properties"]
    form = content["multipart/form-data"]["schema"]
    assert form["properties"]["document"] == {"type": "string", "format": "binary",
                                              "description": "PDF, PNG, JPEG or TIFF"}
    assert set(form["required"]) == {"request_id", "pipeline", "document"}


def test_the_sweep_keeps_live_uploads_and_removes_the_rest(tmp_path):
    uploads = UploadStore(tmp_path / "uploads", max_bytes=10_000, retention_s=3600)
    now = time.time()

    async def scenario():
        store = SqliteJobs(tmp_path / "jobs.sqlite3", max_queue=10)

        async def upload(request_id: str, content: bytes, age_s: float, queue: bool, owner=None) -> None:
            staged = uploads.receive(io.BytesIO(content))
            if queue:
                await store.submit(JobRequest(request_id, PIPELINE, staged.location, owner=owner))
            uploads.commit(staged, owner, request_id)
            path = uploads.path_of(owner, request_id, staged.location)
            os.utime(path, (now - age_s, now - age_s))

        await upload("live", b"a", age_s=SWEEP_GRACE_S + 10, queue=True)     # queued: kept
        await upload("fresh-orphan", b"b", age_s=1, queue=False)             # may be mid-submit: kept
        await upload("orphan", b"c", age_s=SWEEP_GRACE_S + 10, queue=False)  # no job: removed
        await upload("expired", b"d", age_s=3601, queue=True)                # past retention: removed
        await upload("live", b"e", age_s=SWEEP_GRACE_S + 10, queue=True, owner="alice")  # alice's: kept
        await upload("live", b"f", age_s=SWEEP_GRACE_S + 10, queue=False, owner="bob")   # bob has none
        assert await uploads.sweep(store, now=now) == 3
        await store.close()

    asyncio.run(scenario())
    kept = sorted(str(path.relative_to(uploads.root)).split(".")[0]
                  for path in uploads.root.rglob("*.document"))
    assert kept == ["~/fresh-orphan", "~/live", "~616c696365/live"]


def test_an_upload_kept_by_an_earlier_version_is_still_its_job_s_document(tmp_path):
    """uploads/<request_id>.<digest>.document, from when request ids were global: the owner's job
    of that id reads it, and the sweep treats it as that job's."""
    uploads = UploadStore(tmp_path / "uploads", max_bytes=10_000, retention_s=3600)
    now = time.time()

    async def scenario():
        store = SqliteJobs(tmp_path / "jobs.sqlite3", max_queue=10)
        for request_id, content in (("done-1", b"done bytes"), ("queued-1", b"old bytes")):
            digest = hashlib.sha256(content).hexdigest()
            location = f"upload:sha256:{digest}"
            job, _ = await store.submit(JobRequest(request_id, PIPELINE, location, owner="alice"))
            legacy = uploads.root / f"{request_id}.{digest}.document"
            legacy.write_bytes(content)
            os.utime(legacy, (now - SWEEP_GRACE_S - 10, now - SWEEP_GRACE_S - 10))
            if request_id == "queued-1":
                assert uploads.read(job) == b"old bytes"
            else:
                claimed = await store.claim("w", lease_s=10, wait_s=0)
                assert await store.succeed(claimed, "w", {})
        assert await uploads.sweep(store, now=now) == 1  # done-1 no longer needs its document
        await store.close()

    asyncio.run(scenario())
    assert [path.name.split(".")[0] for path in uploads.root.glob("*.document")] == ["queued-1"]


def test_long_polling_answers_on_a_change_or_after_the_wait(queue_only, uploads_api):
    idle, _ = queue_only
    assert _upload(idle, "poll-1", png_page()).status_code == 202
    started = time.monotonic()
    still = idle.get("/api/v1/jobs/poll-1", params={"wait": 0.6})
    assert still.json()["status"] == "queued" and 0.55 < time.monotonic() - started < 5
    assert idle.get("/api/v1/jobs/poll-1", params={"wait": 31}).status_code == 422

    busy, _ = uploads_api
    assert _upload(busy, "poll-2", png_page(33, 44)).status_code == 202
    seen = []
    started = time.monotonic()
    while not seen or seen[-1][0] not in ("succeeded", "failed"):
        job = busy.get("/api/v1/jobs/poll-2", params={"wait": 20}).json()
        seen.append((job["status"], job.get("progress")))
    # One answer per change, no busy polling: a one-page job changes at most four times (running,
    # its page count known, its page done, succeeded); changes close together share an answer.
    assert seen[-1][0] == "succeeded" and len(seen) <= 4, seen
    assert all(before != after for before, after in pairwise(seen)), seen
    assert time.monotonic() - started < 20
