"""Pages deeper than 8 bits through the gateway and the real OCR pipeline: a 16-bit scan must
read like its 8-bit original (PIL's plain conversion clips every value over 255 to white)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from docserve.api.app import create_app
from docserve.export.documents.generator import generate_page


@pytest.fixture(scope="module")
def gateway(triton_settings):
    with TestClient(create_app(triton_settings.model_copy(update={"run_workers": False}))) as client:
        yield client


@pytest.fixture(scope="module")
def letter() -> np.ndarray:
    """A synthetic page with many text lines, as 8-bit grayscale."""
    page = generate_page(10_000_002)
    return np.asarray(Image.fromarray(page.image).convert("L"))


def _encoded(pixels: np.ndarray, image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format)
    return buffer.getvalue()


def _lines(gateway: TestClient, document: bytes) -> list[str]:
    response = gateway.post("/api/v1/pipelines/ocr/predict", files={"document": ("page", document)})
    assert response.status_code == 200, response.text
    return [line["text"] for line in response.json()["pages"][0]["result"]["text"]["lines"]]


@pytest.mark.parametrize("image_format", ["PNG", "TIFF"])
def test_a_16_bit_page_reads_like_its_8_bit_original(gateway, letter, image_format):
    expected = _lines(gateway, _encoded(letter, "PNG"))
    assert len(expected) >= 5
    sixteen_bit = letter.astype(np.uint16) * 257  # the same page, full 16-bit range
    assert _lines(gateway, _encoded(sixteen_bit, image_format)) == expected


def test_a_float_page_reads_like_its_8_bit_original(gateway, letter):
    expected = _lines(gateway, _encoded(letter, "PNG"))
    as_float = (letter.astype(np.float32) / 255.0)
    assert _lines(gateway, _encoded(as_float, "TIFF")) == expected
