"""Page decoding refuses bad input with a typed, explicit error before decoding pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from docserve.export.processing.page_image import InvalidImageError, check_page_array, decode_page


def _encoded(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "TIFF"])
def test_decodes_common_formats_to_grayscale(image_format: str):
    pixels = np.full((120, 90, 3), 200, dtype=np.uint8)
    pixels[10:20, 10:80] = 0
    page = decode_page(_encoded(Image.fromarray(pixels), image_format))
    assert page.shape == (120, 90) and page.dtype == np.uint8
    assert page[15, 40] < 50 and page[60, 40] > 150


def test_refuses_bytes_that_are_not_an_image():
    with pytest.raises(InvalidImageError, match="not a decodable image"):
        decode_page(b"%PDF-1.7 definitely not a raster image")


def test_refuses_empty_input():
    with pytest.raises(InvalidImageError, match="empty input"):
        decode_page(b"")


def test_refuses_tiny_images():
    with pytest.raises(InvalidImageError, match="too small"):
        decode_page(_encoded(Image.new("L", (40, 300), 255), "PNG"))


def test_refuses_decompression_bombs_from_the_header():
    """A few kB of PNG that would decode to 400 Mpx is refused without decoding it."""
    bomb = _encoded(Image.new("1", (20_000, 20_000), 1), "PNG")
    assert len(bomb) < 200_000
    with pytest.raises(InvalidImageError, match="exceeds the limit"):
        decode_page(bomb)


def test_pixel_limit_is_configurable():
    with pytest.raises(InvalidImageError, match="exceeds the limit of 10000 pixels"):
        decode_page(_encoded(Image.new("L", (200, 200), 255), "PNG"), max_pixels=10_000)


def test_refuses_truncated_images():
    encoded = _encoded(Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300),
                                                                        dtype=np.uint8)), "PNG")
    with pytest.raises(InvalidImageError):
        decode_page(encoded[: len(encoded) // 2])


@pytest.mark.parametrize(("page", "message"), [
    (np.zeros((100, 100, 3), dtype=np.uint8), "uint8 \\[height, width\\]"),
    (np.zeros((100, 100), dtype=np.float32), "uint8 \\[height, width\\]"),
    (np.zeros((0, 100), dtype=np.uint8), "too small"),
])
def test_page_arrays_sent_directly_are_checked_too(page: np.ndarray, message: str):
    with pytest.raises(InvalidImageError, match=message):
        check_page_array(page)
    check_page_array(np.zeros((100, 100), dtype=np.uint8))
