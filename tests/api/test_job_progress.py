"""A job page by page through the API: progress, partial results, long polls that answer when a
page is done, and the page images the results' coordinates refer to."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pypdfium2
import pytest
from fastapi.testclient import TestClient
from job_polling import wait_for_job
from PIL import Image

from docserve.api.app import create_app


def _pdf(pages: list[tuple[int, int, int]]) -> bytes:
    """A PDF whose pages (width, height in points, gray shade) differ, so pixels tell them apart."""
    images = [Image.new("RGB", (width, height), (shade, 255 - shade, 128)) for width, height, shade in pages]
    for image in images:  # something to see: a dark bar on each page
        image.paste((0, 0, 0), (10, 10, 60, 20))
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=72)
    return buffer.getvalue()


def _pixels(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGB"))


@pytest.fixture
def jobs_api(jobs_settings, probe_pipeline):
    with TestClient(create_app(jobs_settings)) as client:
        yield client


@pytest.fixture
def idle_api(jobs_settings, probe_pipeline):
    """No workers: the test plays the worker through the app's own real queue."""
    with TestClient(create_app(jobs_settings.model_copy(update={"run_workers": False}))) as client:
        yield client


def _upload(client: TestClient, request_id: str, document: bytes, name: str, **form) -> dict:
    response = client.post("/api/v1/jobs", files={"document": (name, document)},
                           data={"request_id": request_id, "pipeline": "page_probe_pipeline", **form})
    assert response.status_code == 202, response.text
    return response.json()


def test_a_finished_job_shows_its_progress_and_the_images_of_its_pages(jobs_api, jobs_settings):
    document = _pdf([(300, 400, 40), (400, 300, 200), (200, 200, 120)])
    queued = _upload(jobs_api, "progress-1", document, "three.pdf", options='{"pages": [1, 3]}')
    assert queued["progress"] == {"pages_total": None, "pages_done": 0} and queued["partial"] is None
    job = wait_for_job(jobs_api, "progress-1")
    assert job["status"] == "succeeded", job
    assert job["progress"] == {"pages_total": 2, "pages_done": 2}
    with_partial = jobs_api.get("/api/v1/jobs/progress-1?include=partial").json()
    assert with_partial["partial"] is None  # succeeded: the result holds every page
    pdf = pypdfium2.PdfDocument(document)
    for entry in job["result"]["pages"]:
        response = jobs_api.get(f"/api/v1/jobs/progress-1/pages/{entry['page']}/image")
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        pixels = _pixels(response.content)
        size = entry["result"]["page"]
        assert pixels.shape[:2] == (size["height"], size["width"])
        rendered = pdf[entry["page"] - 1].render(scale=jobs_settings.pdf_dpi / 72).to_pil().convert("RGB")
        assert np.array_equal(pixels, np.asarray(rendered))  # the very pixels the pipeline read


def test_unknown_pages_and_jobs_are_404_naming_them(jobs_api):
    _upload(jobs_api, "progress-2", _pdf([(200, 200, 10), (200, 200, 90), (200, 200, 170)]), "three.pdf",
            options='{"pages": [2]}')
    assert wait_for_job(jobs_api, "progress-2")["status"] == "succeeded"
    missing = jobs_api.get("/api/v1/jobs/progress-2/pages/1/image")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["code"] == "not_found" and "no page 1" in error["message"] and "[2]" in error["message"]
    assert jobs_api.get("/api/v1/jobs/progress-2/pages/7/image").status_code == 404
    assert jobs_api.get("/api/v1/jobs/progress-2/pages/0/image").json()["error"]["code"] == "validation_error"
    assert jobs_api.get("/api/v1/jobs/progress-2/pages/x/image").status_code == 422
    unknown = jobs_api.get("/api/v1/jobs/nobody/pages/1/image")
    assert unknown.status_code == 404 and "nobody" in unknown.json()["error"]["message"]
    assert jobs_api.get("/api/v1/jobs/progress-2?include=everything").status_code == 422


def test_a_jpeg_page_is_kept_as_png_with_the_decoded_pixels(jobs_api):
    photo = Image.new("RGB", (240, 180), (200, 180, 40))
    photo.paste((20, 20, 200), (30, 30, 120, 90))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=80)
    _upload(jobs_api, "progress-3", buffer.getvalue(), "photo.jpg")
    assert wait_for_job(jobs_api, "progress-3")["status"] == "succeeded"
    kept = _pixels(jobs_api.get("/api/v1/jobs/progress-3/pages/1/image").content)
    assert np.array_equal(kept, np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")))


def test_a_long_poll_answers_when_a_page_is_done_and_partial_pages_are_readable(idle_api):
    queue = idle_api.app.state.services.queue
    portal = idle_api.portal  # the app's event loop: the queue's coroutines run there
    _upload(idle_api, "progress-4", _pdf([(200, 200, 10), (200, 200, 90)]), "two.pdf")
    job = portal.call(queue.claim, "test-worker", 30.0, 0.0)
    assert job.request_id == "progress-4"
    assert portal.call(queue.start_pages, job, "test-worker", 2)

    answered: dict = {}

    def long_poll() -> None:
        started = time.monotonic()
        answered["job"] = idle_api.get("/api/v1/jobs/progress-4?wait=20&include=partial").json()
        answered["after_s"] = time.monotonic() - started

    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(0.5)
    assert "job" not in answered  # nothing changed yet: the poll waits
    page = {"page": 2, "seconds": 0.1, "result": {"schema_version": "1.1", "page": {"width": 5, "height": 7}}}
    assert portal.call(queue.record_page, job, "test-worker", page)
    poller.join(timeout=10)
    assert answered["after_s"] < 5  # answered by the page, not by the end of the wait
    running = answered["job"]
    assert running["status"] == "processing" and running["progress"] == {"pages_total": 2, "pages_done": 1}
    assert [entry["page"] for entry in running["partial"]] == [2]
    assert running["partial"][0]["result"]["page"] == {"width": 5, "height": 7}
    assert idle_api.get("/api/v1/jobs/progress-4").json()["partial"] is None  # only when asked

    assert portal.call(queue.fail, job, "test-worker", "invalid_document", "page 1: unreadable")
    failed = idle_api.get("/api/v1/jobs/progress-4?include=partial").json()
    assert failed["error"] == {"code": "invalid_document", "message": "page 1: unreadable"}
    assert [entry["page"] for entry in failed["partial"]] == [2]  # what it did finish stays readable
