"""A document's bytes -> its pages, each as encoded image bytes ready for a pipeline.

PNG and JPEG pages pass through untouched (Triton decodes them: the gateway never holds pixel
arrays), multi-page TIFFs are split, PDFs are rasterized with pypdfium2 at the configured dpi.
Sizes are read from headers *before* any pixel is decoded, so a decompression bomb is refused
for the cost of reading its header.

Budgets, all checked before rendering: pixels per page (and, for pipelines that deskew, per
deskewed canvas, so a page accepted here is never refused later by a step that reads the larger
upright canvas), the shortest side the pipeline's decoding step accepts (the same reason), pages
per document (counted no further than the limit), and pixels of all the pages analysed together. Only the
selected pages are rasterized, under a deadline checked after each page. A synchronous
prediction has smaller budgets than a job; its errors say to submit a job instead.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from docserve.contract.errors import DocumentError, DocumentTooLargeError, UnsupportedDocumentError
from docserve.processing.page_image import DEFAULT_MAX_PAGE_PIXELS, to_8_bit
from docserve.processing.page_rotation import MAX_SKEW_DEGREES, deskew_canvas_pixels

Result = TypeVar("Result")

DEFAULT_MAX_PAGES = 50  # pages analysed per document
DEFAULT_PDF_DPI = 150  # PDF pages are rasterized at this resolution

_SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"II*\x00": "image/tiff",
    b"MM\x00*": "image/tiff",
}


@dataclass(frozen=True)
class PageLimits:
    """What one document may cost; the defaults are the gateway's (its settings can change them)."""

    max_pages: int = DEFAULT_MAX_PAGES
    max_page_pixels: int = DEFAULT_MAX_PAGE_PIXELS
    pdf_dpi: int = DEFAULT_PDF_DPI
    max_document_pixels: int | None = None  # all selected pages together
    rasterize_timeout_s: float | None = None
    deskew: bool = False  # the pipeline deskews: its canvas must fit max_page_pixels too
    min_page_side: int = 1  # the pipeline's first step refuses pages with a shorter side
    over_budget_hint: str = ""  # appended to budget errors: which setting, or "submit a job"


@dataclass(frozen=True)
class DocumentPages:
    count: int  # pages in the document
    selected: list[tuple[int, bytes]] = field(default_factory=list)  # (0-based index, encoded page)


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
    """Every page of the document, encoded."""
    return [page for _, page in document_pages(data, limits).selected]


def document_pages(data: bytes, limits: PageLimits, wanted: Sequence[int] | None = None) -> DocumentPages:
    """The pages numbered ``wanted`` (1-based; default all), encoded, within ``limits``."""
    media_type = sniff(data)
    if media_type == "application/pdf":
        return _with_pdf(data, lambda pdf: _render_pdf(pdf, limits, _checked_pdf(pdf, limits, wanted)))
    if media_type == "image/tiff":
        image = _open_image(data)
        return _render_tiff(image, limits, _checked_tiff(image, limits, wanted))
    _checked_image(data, limits, wanted)
    return DocumentPages(count=1, selected=[(0, data)])


def check_document(data: bytes, limits: PageLimits, wanted: Sequence[int] | None = None) -> int:
    """The page count, after every check :func:`document_pages` makes before rendering (headers
    only: nothing is rasterized or decoded): what an upload must pass before it is queued."""
    media_type = sniff(data)
    if media_type == "application/pdf":
        return _with_pdf(data, lambda pdf: _checked_pdf(pdf, limits, wanted).count)
    if media_type == "image/tiff":
        return _checked_tiff(_open_image(data), limits, wanted).count
    _checked_image(data, limits, wanted)
    return 1


@dataclass(frozen=True)
class _Checked:
    """A document found within its limits: its page count and the 0-based pages to render."""

    count: int
    indices: list[int]


def select_pages(count: int, wanted: Sequence[int] | None) -> list[int]:
    """0-based indices of the pages to analyse (``wanted`` holds 1-based page numbers)."""
    if not wanted:
        return list(range(count))
    outside = [number for number in wanted if not 1 <= number <= count]
    if outside:
        raise DocumentError(f"pages {outside[:20]} do not exist: the document has {count} page(s)")
    return [number - 1 for number in sorted(set(wanted))]


def _check_pixels(width: float, height: float, limits: PageLimits, what: str) -> None:
    if width <= 0 or height <= 0:
        raise DocumentError(f"{what} has no pixels ({width:.0f}x{height:.0f})")
    if min(width, height) < limits.min_page_side:  # refused here, from the header, not by the step
        raise DocumentError(f"{what} is {width:.0f}x{height:.0f} pixels: too small for a page of this "
                            f"pipeline (minimum side {limits.min_page_side})")
    if width * height > limits.max_page_pixels:
        raise DocumentTooLargeError(
            f"{what} is {width:.0f}x{height:.0f} pixels, more than the {limits.max_page_pixels} "
            "a page may have (DOCSERVE_MAX_PAGE_PIXELS)"
        )
    if limits.deskew and (canvas := deskew_canvas_pixels(width, height)) > limits.max_page_pixels:
        raise DocumentTooLargeError(
            f"{what} is {width:.0f}x{height:.0f} pixels; deskewing it (up to {MAX_SKEW_DEGREES:g} "
            f"degrees) needs a canvas of {canvas} pixels, more than the {limits.max_page_pixels} a "
            "page may have (DOCSERVE_MAX_PAGE_PIXELS): send it at a lower resolution"
        )


def _check_total(sizes: Sequence[tuple[float, float]], limits: PageLimits) -> None:
    total = int(sum(width * height for width, height in sizes))
    if limits.max_document_pixels is not None and total > limits.max_document_pixels:
        raise DocumentTooLargeError(
            f"the {len(sizes)} page(s) to analyse hold {total} pixels, more than the "
            f"{limits.max_document_pixels} one document may have here; {limits.over_budget_hint}"
        )


class _Deadline:
    def __init__(self, limits: PageLimits):
        self.limits = limits
        self.started = time.monotonic()

    def check(self, done: int, total: int) -> None:
        timeout = self.limits.rasterize_timeout_s
        if timeout is not None and done < total and time.monotonic() - self.started > timeout:
            raise DocumentTooLargeError(
                f"rasterizing took more than {timeout}s ({done} of {total} pages done); "
                f"{self.limits.over_budget_hint}"
            )


def _open_image(data: bytes):
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # our own limit applies, checked from the header below
    try:
        return Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as error:
        raise DocumentError(f"the image cannot be read: {error}") from error


def _check_image(data: bytes, limits: PageLimits) -> tuple[int, int]:
    """The image's size, once its header and structure are found sound."""
    image = _open_image(data)
    _check_pixels(*image.size, limits, "the image")
    try:
        image.verify()  # structure and checksums, without decoding the pixels
    except Exception as error:  # PIL raises many types for corrupt files
        raise DocumentError(f"the image is corrupt: {error}") from error
    return image.size


def _checked_image(data: bytes, limits: PageLimits, wanted: Sequence[int] | None) -> None:
    size = _check_image(data, limits)
    select_pages(1, wanted)
    _check_total([size], limits)


def _tiff_pages(image, max_pages: int) -> int:
    """The TIFF's page count, walking its pages no further than one past ``max_pages``.

    PIL's ``n_frames`` reads every page directory to the end: 10,000 tiny pages in a 1 MB file
    cost seconds of CPU before the refusal. Walking one page at a time stops at the limit.
    """
    count = 1
    try:
        while count <= max_pages:
            image.seek(count)  # PIL reads the next page directory only
            count += 1
    except EOFError:  # no page ``count``: the TIFF has ``count`` pages
        return count
    except (OSError, ValueError) as error:
        raise DocumentError(f"the TIFF is corrupt: {error}") from error
    raise DocumentTooLargeError(f"the TIFF has more than {max_pages} pages; at most {max_pages}")


def _checked_tiff(image, limits: PageLimits, wanted: Sequence[int] | None) -> _Checked:
    frames = _tiff_pages(image, limits.max_pages)
    indices = select_pages(frames, wanted)
    try:
        sizes = []
        for index in indices:
            image.seek(index)
            _check_pixels(*image.size, limits, f"TIFF page {index + 1}")
            sizes.append(image.size)
    except (OSError, ValueError) as error:
        raise DocumentError(f"the TIFF is corrupt: {error}") from error
    _check_total(sizes, limits)
    return _Checked(frames, indices)


def _render_tiff(image, limits: PageLimits, checked: _Checked) -> DocumentPages:
    deadline, pages = _Deadline(limits), []
    try:
        for index in checked.indices:
            deadline.check(len(pages), len(checked.indices))
            image.seek(index)
            page = to_8_bit(image)  # a 16-bit TIFF page would be clipped to white by convert()
            pages.append((index, _png(page if page.mode in ("L", "RGB") else page.convert("RGB"))))
    except (OSError, ValueError) as error:
        raise DocumentError(f"the TIFF is corrupt: {error}") from error
    return DocumentPages(count=checked.count, selected=pages)


def _with_pdf(data: bytes, use: Callable[[Any], Result]) -> Result:
    """``use(pdf)`` on the opened document, which is closed afterwards whatever happens."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        raise DocumentError(_unopenable_pdf(data, error)) from error
    try:
        return use(pdf)
    finally:
        pdf.close()


def _checked_pdf(pdf, limits: PageLimits, wanted: Sequence[int] | None) -> _Checked:
    """Page count, every selected page's size at the configured dpi and their total, from the
    PDF's page boxes."""
    if len(pdf) == 0:
        raise DocumentError("the PDF has no pages")
    if len(pdf) > limits.max_pages:
        raise DocumentTooLargeError(f"the PDF has {len(pdf)} pages; at most {limits.max_pages}")
    scale = limits.pdf_dpi / 72
    indices = select_pages(len(pdf), wanted)
    sizes = [tuple(side * scale for side in pdf[index].get_size()) for index in indices]
    for index, (width, height) in zip(indices, sizes, strict=True):
        _check_pixels(width, height, limits, f"PDF page {index + 1}")
    _check_total(sizes, limits)
    return _Checked(len(pdf), indices)


def _render_pdf(pdf, limits: PageLimits, checked: _Checked) -> DocumentPages:
    scale = limits.pdf_dpi / 72
    deadline, pages = _Deadline(limits), []
    for index in checked.indices:
        deadline.check(len(pages), len(checked.indices))
        pages.append((index, _png(pdf[index].render(scale=scale, grayscale=False).to_pil())))
    return DocumentPages(count=checked.count, selected=pages)


def _unopenable_pdf(data: bytes, error) -> str:
    """Why PDFium could not open ``data``, in words that are true.

    PDFium refuses a PDF whose page tree is empty, and its error code then is whatever came last
    ("Incorrect password", "Data format error", even "Success"): the page tree itself says it.
    """
    import pypdfium2.raw as pdfium_c

    if any(_EMPTY_COUNT.search(node) for node in _PAGE_TREE_NODE.findall(data)):
        return "the PDF has no pages"
    if error.err_code == pdfium_c.FPDF_ERR_PASSWORD and b"/Encrypt" in data:
        return "the PDF is password-protected"
    return f"the PDF cannot be opened: {error}"


# A page tree node's dictionary (when not hidden in a compressed object stream), and a zero count.
_PAGE_TREE_NODE = re.compile(rb"<<[^<>]*/Type\s*/Pages\b[^<>]*>>")
_EMPTY_COUNT = re.compile(rb"/Count\s+0(?![0-9])")


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # fast: Triton decodes it right away
    return buffer.getvalue()
