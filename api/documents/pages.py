"""A document's bytes -> its pages, each as encoded image bytes ready for a pipeline.

PNG and JPEG pages pass through untouched (Triton decodes them: the gateway never holds pixel
arrays), multi-page TIFFs are split, PDFs are rasterized with pypdfium2 at the configured dpi.
Sizes are read from headers *before* any pixel is decoded, so a decompression bomb is refused
for the cost of reading its header.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from docserve.api.errors import DocumentError, DocumentTooLargeError, UnsupportedDocumentError
from docserve.export.processing.page_image import to_8_bit

_SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"II*\x00": "image/tiff",
    b"MM\x00*": "image/tiff",
}


@dataclass(frozen=True)
class PageLimits:
    max_pages: int
    max_page_pixels: int
    pdf_dpi: int


def sniff(data: bytes) -> str:
    """The document's media type from its first bytes (file names and headers can lie)."""
    for signature, media_type in _SIGNATURES.items():
        if data.startswith(signature):
            return media_type
    raise UnsupportedDocumentError(
        "unsupported document: expected a PDF, PNG, JPEG or TIFF file "
        f"(first bytes {data[:8]!r})" if data else "the document is empty"
    )


def split_pages(data: bytes, limits: PageLimits) -> list[bytes]:
    media_type = sniff(data)
    if media_type == "application/pdf":
        return _pdf_pages(data, limits)
    if media_type == "image/tiff":
        return _tiff_pages(data, limits)
    _check_image(data, limits)
    return [data]


def _check_pixels(width: float, height: float, limits: PageLimits, what: str) -> None:
    if width <= 0 or height <= 0:
        raise DocumentError(f"{what} has no pixels ({width:.0f}x{height:.0f})")
    if width * height > limits.max_page_pixels:
        raise DocumentTooLargeError(
            f"{what} is {width:.0f}x{height:.0f} pixels, more than the {limits.max_page_pixels} "
            "a page may have (DOCSERVE_MAX_PAGE_PIXELS)"
        )


def _open_image(data: bytes):
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # our own limit applies, checked from the header below
    try:
        return Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as error:
        raise DocumentError(f"the image cannot be read: {error}") from error


def _check_image(data: bytes, limits: PageLimits) -> None:
    image = _open_image(data)
    _check_pixels(*image.size, limits, "the image")
    try:
        image.verify()  # structure and checksums, without decoding the pixels
    except Exception as error:  # PIL raises many types for corrupt files
        raise DocumentError(f"the image is corrupt: {error}") from error


def _tiff_pages(data: bytes, limits: PageLimits) -> list[bytes]:
    image = _open_image(data)
    frames = getattr(image, "n_frames", 1)
    if frames > limits.max_pages:
        raise DocumentTooLargeError(f"the TIFF has {frames} pages; at most {limits.max_pages}")
    pages = []
    try:
        for index in range(frames):
            image.seek(index)
            _check_pixels(*image.size, limits, f"TIFF page {index + 1}")
            page = to_8_bit(image)  # a 16-bit TIFF page would be clipped to white by convert()
            pages.append(_png(page if page.mode in ("L", "RGB") else page.convert("RGB")))
    except (OSError, ValueError) as error:
        raise DocumentError(f"the TIFF is corrupt: {error}") from error
    return pages


def _pdf_pages(data: bytes, limits: PageLimits) -> list[bytes]:
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        raise DocumentError(f"the PDF cannot be opened: {error}") from error
    try:
        if len(pdf) == 0:
            raise DocumentError("the PDF has no pages")
        if len(pdf) > limits.max_pages:
            raise DocumentTooLargeError(f"the PDF has {len(pdf)} pages; at most {limits.max_pages}")
        scale = limits.pdf_dpi / 72
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            width, height = page.get_size()
            _check_pixels(width * scale, height * scale, limits, f"PDF page {index + 1}")
            pages.append(_png(page.render(scale=scale, grayscale=False).to_pil()))
        return pages
    finally:
        pdf.close()


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # fast: Triton decodes it right away
    return buffer.getvalue()
