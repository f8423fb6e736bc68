"""Budgets of a document, through the gateway and the real Triton: what a page may grow into
(deskew's canvas), how many pixels one document may hold, how long rasterizing may take. An
accepted page must never fail later on size; a document too big to wait for says to use a job."""

from __future__ import annotations

import io
import time

import pypdfium2
import pytest
from fastapi.testclient import TestClient
from job_polling import wait_for_job
from PIL import Image

from docserve.api.app import create_app


@pytest.fixture
def gateway(jobs_settings, probe_pipeline):
    with TestClient(create_app(jobs_settings)) as client:
        yield client


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _blank_pdf(pages: int, side_points: float) -> bytes:
    """A tiny PDF of ``pages`` blank square pages (a few KB however large they render)."""
    pdf = pypdfium2.PdfDocument.new()
    for _ in range(pages):
        pdf.new_page(side_points, side_points)
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def _predict(client: TestClient, pipeline: str, document: bytes, **form: str):
    return client.post(f"/api/v1/pipelines/{pipeline}/predict", files={"document": ("doc", document)},
                       data=form)


def test_a_page_whose_deskewed_canvas_is_over_budget_is_refused_at_the_gateway(gateway):
    page = _png(6300, 6285)  # 39.6 Mpx: under the 40 Mpx page budget, its 15-degree canvas is not
    started = time.monotonic()
    response = _predict(gateway, "document_full", page)
    assert response.status_code == 413, response.text[:500]
    assert time.monotonic() - started < 10  # refused from the header, not after Triton tried
    error = response.json()["error"]
    assert error["code"] == "document_too_large"
    assert "deskewing it" in error["message"]
    # A pipeline that does not deskew takes the same page.
    response = _predict(gateway, "page_probe_pipeline", page)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["pages"][0]["result"]["page"]["width"] == 6300


def test_a_synchronous_document_over_the_pixel_budget_is_413_naming_jobs(gateway):
    document = _blank_pdf(50, 3020)  # 50 pages of 6292 x 6292 px at 150 dpi: 1980 Mpx, 2 KB
    assert len(document) < 20_000
    started = time.monotonic()
    response = _predict(gateway, "page_probe_pipeline", document)
    assert time.monotonic() - started < 5
    assert response.status_code == 413, response.text[:500]
    assert "submit a job (POST /api/v1/jobs)" in response.json()["error"]["message"]
    # Only the pages asked for count (and are rasterized).
    response = _predict(gateway, "page_probe_pipeline", document, pages="2")
    assert response.status_code == 200, response.text[:500]
    assert response.json()["page_count"] == 50
    assert [page["page"] for page in response.json()["pages"]] == [2]


def test_rasterizing_past_its_deadline_is_413_naming_jobs(jobs_settings, probe_pipeline, inbox):
    settings = jobs_settings.model_copy(update={"sync_rasterize_timeout_s": 0.05,
                                                "job_rasterize_timeout_s": 0.05})
    document = _blank_pdf(8, 1500)  # 8 pages of 3125 x 3125 px: each takes longer than 0.05 s
    (inbox / "slow.pdf").write_bytes(document)
    with TestClient(create_app(settings)) as client:
        response = _predict(client, "page_probe_pipeline", document)
        client.post("/api/v1/jobs", json={"request_id": "slow-pdf", "pipeline": "page_probe_pipeline",
                                          "location": f"file://{inbox}/slow.pdf"})
        job = wait_for_job(client, "slow-pdf")
    assert response.status_code == 413, response.text[:500]
    assert "rasterizing took more than 0.05s" in response.json()["error"]["message"]
    assert "submit a job" in response.json()["error"]["message"]
    assert (job["status"], job["error"]["code"], job["attempts"]) == ("failed", "document_too_large", 1)


def test_a_pdf_without_pages_says_so(gateway):
    response = _predict(gateway, "page_probe_pipeline", _blank_pdf(0, 100))
    assert response.status_code == 422, response.text
    assert "no pages" in response.json()["error"]["message"]
    assert "password" not in response.json()["error"]["message"]
