"""Documents into pages: formats, limits, and corrupt input."""

from __future__ import annotations

import io

import pytest
from PIL import Image, TiffImagePlugin

from docserve.contract.errors import DocumentError, DocumentTooLargeError, UnsupportedDocumentError
from docserve.processing.document_pages import PageLimits, check_document, sniff, split_pages
from docserve.processing.page_image import MIN_SIDE_PX

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


def _page_directories_read(monkeypatch) -> set[int]:
    """Offsets of the TIFF page directories PIL reads from now on (one per page it walks)."""
    read: set[int] = set()
    load = TiffImagePlugin.ImageFileDirectory_v2.load

    def counting_load(directory, fp):
        read.add(fp.tell())
        return load(directory, fp)

    monkeypatch.setattr(TiffImagePlugin.ImageFileDirectory_v2, "load", counting_load)
    return read


def test_a_tiff_of_many_pages_is_refused_after_walking_one_page_past_the_limit(monkeypatch):
    tiny = [Image.new("L", (1, 1)) for _ in range(2000)]
    buffer = io.BytesIO()
    tiny[0].save(buffer, format="TIFF", save_all=True, append_images=tiny[1:])
    read = _page_directories_read(monkeypatch)
    with pytest.raises(DocumentTooLargeError, match="more than 50 pages; at most 50"):
        check_document(buffer.getvalue(), PageLimits())
    assert 0 < len(read) <= 51  # not the 2,000 directories n_frames would read


@pytest.mark.parametrize("pages", [1, 5])
def test_a_tiff_within_the_page_limit_counts_all_its_pages(pages, monkeypatch):
    read = _page_directories_read(monkeypatch)
    assert check_document(_tiff(pages), LIMITS) == pages
    assert len(read) == pages


@pytest.mark.parametrize(("size", "refused"), [((60000, 1), True), ((1, 63), True), ((64, 64), False)])
def test_a_page_under_the_pipelines_minimum_side_is_refused_from_its_header(size, refused):
    buffer = io.BytesIO()
    Image.new("L", size).save(buffer, format="PNG")
    limits = PageLimits(min_page_side=MIN_SIDE_PX)
    too_small = rf"{size[0]}x{size[1]} pixels: too small .* \(minimum side 64\)"
    if refused:
        with pytest.raises(DocumentError, match=too_small):
            check_document(buffer.getvalue(), limits)
    else:
        assert check_document(buffer.getvalue(), limits) == 1
    assert check_document(buffer.getvalue(), PageLimits(max_page_pixels=10**6)) == 1  # no minimum
