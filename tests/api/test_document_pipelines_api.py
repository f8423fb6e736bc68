"""The document pipelines through the gateway and the gRPC client: discovery, step parameters
(form_intake's expected types travel with every page), uploads of images and PDFs."""

from __future__ import annotations

import asyncio
import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from docserve.api.app import create_app
from docserve.client.triton import TritonPipelineClient
from docserve.contract.page_result import DocumentResult
from docserve.export.documents.generator import GeneratedPage, generate_page

DOCUMENT_PIPELINES = {"form_intake", "checkbox_form", "signature_check", "document_full", "ocr",
                      "form_fields"}


@pytest.fixture(scope="module")
def gateway(triton_settings):
    with TestClient(create_app(triton_settings.model_copy(update={"run_workers": False}))) as client:
        yield client


@pytest.fixture(scope="module")
def form_and_letter() -> tuple[GeneratedPage, GeneratedPage]:
    seeds = iter(range(10_000_000, 10_000_100))
    pages = {}
    while len(pages) < 2:
        page = generate_page(next(seeds))
        if page.truth.document_type in ("application_form", "letter"):
            pages.setdefault(page.truth.document_type, page)
    return pages["application_form"], pages["letter"]


def encoded(*pages: GeneratedPage, image_format: str = "PNG") -> bytes:
    images = [Image.fromarray(page.image) for page in pages]
    buffer = io.BytesIO()
    images[0].save(buffer, format=image_format, save_all=True, append_images=images[1:], resolution=150)
    return buffer.getvalue()


def test_every_pipeline_is_listed_with_its_description_and_step_parameters(gateway):
    listed = {p["name"]: p for p in gateway.get("/api/v1/pipelines").json()}
    assert set(listed) >= DOCUMENT_PIPELINES
    assert all(listed[name]["description"] for name in DOCUMENT_PIPELINES)
    assert listed["form_intake"]["parameters"] == {"expected_document_types": "application_form"}
    assert listed["document_full"]["parameters"] == {}


def test_form_intake_upload_uses_the_pipelines_expected_types(gateway, form_and_letter):
    letter = form_and_letter[1]
    response = gateway.post("/api/v1/pipelines/form_intake/predict",
                            files={"document": ("letter.png", encoded(letter))})
    assert response.status_code == 200, response.text
    page = DocumentResult.model_validate(response.json()).pages[0].result
    assert page.text.skipped.document_type == "letter" and page.text.lines == []


def test_a_pdf_is_rasterized_and_every_page_analysed(gateway, form_and_letter):
    form, letter = form_and_letter
    response = gateway.post("/api/v1/pipelines/form_intake/predict",
                            files={"document": ("both.pdf", encoded(form, letter, image_format="PDF"),
                                                "application/pdf")})
    assert response.status_code == 200, response.text
    document = DocumentResult.model_validate(response.json())
    assert document.page_count == 2 and [entry.page for entry in document.pages] == [1, 2]
    first, second = (entry.result for entry in document.pages)
    height, width = form.image.shape  # 150 dpi both ways; pdfium rounds sides up
    assert abs(first.page.height - height) <= 1 and abs(first.page.width - width) <= 1
    assert first.document_type.label == "application_form" and len(first.text.lines) >= 10
    assert second.text.skipped is not None


def test_grpc_client_sends_the_pipelines_step_parameters(triton, form_and_letter):
    form, letter = form_and_letter

    async def analyze():
        async with TritonPipelineClient(triton.grpc_url) as client:
            return [await client.analyze(encoded(page), "form_intake") for page in (form, letter)]

    form_result, letter_result = asyncio.run(analyze())
    assert form_result.text.skipped is None and form_result.text.lines
    assert letter_result.text.skipped.reason == "unexpected document type"
