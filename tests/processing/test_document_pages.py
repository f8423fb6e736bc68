"""Documents into pages: formats, limits, and corrupt input."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from docserve.contract.errors import DocumentError, DocumentTooLargeError, UnsupportedDocumentError
from docserve.processing.document_pages import PageLimits, sniff, split_pages

LIMITS = PageLimits(max_pages=5, max_page_pixels=4_000_000, pdf_dpi=100)


def _tiff(frames: int) -> bytes:
    images = [Image.new("RGB", (50 + i, 40), color=(i, i, i)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="TIFF", save_all=True, append_images=images[1:])
    return buffer.getvalue()


def _pdf(pages: int, size=(72, 72)) -> bytes:
    images = [Image.new("RGB", size, "white") for _ in range(pages)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=72)
    return buffer.getvalue()


def test_png_and_jpeg_pass_through_untouched():
    buffer = io.BytesIO()
    Image.new("L", (30, 20)).save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    assert sniff(jpeg) == "image/jpeg"
    assert split_pages(jpeg, LIMITS) == [jpeg]


def test_multipage_tiff_is_split_into_png_pages():
    pages = split_pages(_tiff(3), LIMITS)
    assert [Image.open(io.BytesIO(page)).size for page in pages] == [(50, 40), (51, 40), (52, 40)]
    assert all(page.startswith(b"\x89PNG") for page in pages)


def test_pdf_pages_render_at_the_configured_dpi():
    (page,) = split_pages(_pdf(1, size=(144, 72)), LIMITS)
    assert Image.open(io.BytesIO(page)).size == (200, 100)


@pytest.mark.parametrize(
    ("document", "error"),
    [
        (_pdf(6), DocumentTooLargeError),  # more pages than allowed
        (_tiff(6), DocumentTooLargeError),
        (_pdf(1, size=(5000, 5000)), DocumentTooLargeError),  # 6944 x 6944 px at 100 dpi
        (b"%PDF-1.7 this is not really a pdf", DocumentError),
        (b"GIF89a....", UnsupportedDocumentError),
    ],
)
def test_limits_and_corrupt_documents(document, error):
    with pytest.raises(error):
        split_pages(document, LIMITS)
