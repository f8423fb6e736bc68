"""Page decoding: formats, colour, and refusals of what is no page."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from docserve.processing.page_image import (
    ImageTooLargeError,
    InvalidImageError,
    check_page_array,
    decode_page,
    decode_page_gray,
)


def encoded(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "TIFF"])
def test_pages_decode_to_rgb_uint8(image_format: str) -> None:
    page = decode_page(encoded(Image.new("RGB", (30, 20), (200, 10, 10)), image_format))
    assert page.shape == (20, 30, 3) and page.dtype == np.uint8
    assert page[10, 15, 0] > 150 and page[10, 15, 2] < 60  # red stays in channel 0


def test_grey_pages_get_three_channels() -> None:
    assert decode_page(encoded(Image.new("L", (8, 4), 255), "PNG")).shape == (4, 8, 3)


def test_transparent_pixels_become_white_paper() -> None:
    page = Image.new("RGBA", (10, 10), (0, 0, 0, 0))  # transparent black: a blank page
    page.putpixel((5, 5), (0, 0, 0, 255))  # one opaque black "ink" pixel
    pixels = decode_page(encoded(page, "PNG"))
    assert pixels[0, 0].tolist() == [255, 255, 255]
    assert pixels[5, 5].tolist() == [0, 0, 0]


def test_exif_rotation_is_applied() -> None:
    page = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    buffer = io.BytesIO()
    page.save(buffer, format="JPEG", exif=exif)
    assert decode_page(buffer.getvalue()).shape == (40, 20, 3)


@pytest.mark.parametrize("data", [b"", b"hello", b"%PDF-1.7 not an image", b"\x89PNG\r\n\x1a\n"])
def test_non_images_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidImageError):
        decode_page(data)


def test_truncated_images_are_refused() -> None:
    data = encoded(Image.effect_noise((200, 200), 50).convert("RGB"), "PNG")
    with pytest.raises(InvalidImageError, match="corrupt"):
        decode_page(data[: len(data) // 2])


def test_images_over_the_pixel_limit_are_refused() -> None:
    data = encoded(Image.new("L", (100, 100)), "PNG")
    with pytest.raises(ImageTooLargeError, match="10000 pixels"):
        decode_page(data, max_pixels=9_999)
    assert decode_page(data, max_pixels=10_000).shape == (100, 100, 3)


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    # 30,000 x 30,000 one-bit pixels compress to ~100 kB and would decode to 2.7 GB of RGB
    bomb = encoded(Image.new("1", (30_000, 30_000)), "PNG")
    assert len(bomb) < 1_000_000
    with pytest.raises(ImageTooLargeError):
        decode_page(bomb)


# -- the grayscale view the vision models read --------------------------------------------------


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "TIFF"])
def test_decodes_common_formats_to_grayscale(image_format: str):
    pixels = np.full((120, 90, 3), 200, dtype=np.uint8)
    pixels[10:20, 10:80] = 0
    page = decode_page_gray(encoded(Image.fromarray(pixels), image_format))
    assert page.shape == (120, 90) and page.dtype == np.uint8
    assert page[15, 40] < 50 and page[60, 40] > 150


def test_gray_and_rgb_views_agree_on_a_gray_page():
    data = encoded(Image.effect_noise((100, 80), 40), "PNG")
    np.testing.assert_array_equal(decode_page_gray(data), decode_page(data)[:, :, 0])


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty page image"), (b"%PDF-1.7 definitely not a raster image", "not an image format")],
)
def test_gray_refuses_what_is_no_image(data: bytes, message: str):
    with pytest.raises(InvalidImageError, match=message):
        decode_page_gray(data)


def test_gray_refuses_tiny_images():
    with pytest.raises(InvalidImageError, match="too small"):
        decode_page_gray(encoded(Image.new("L", (40, 300), 255), "PNG"))


def test_gray_refuses_decompression_bombs_and_truncation():
    with pytest.raises(ImageTooLargeError, match="more than the 10000 allowed"):
        decode_page_gray(encoded(Image.new("L", (200, 200), 255), "PNG"), max_pixels=10_000)
    data = encoded(Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300), dtype=np.uint8)),
                   "PNG")
    with pytest.raises(InvalidImageError):
        decode_page_gray(data[: len(data) // 2])


@pytest.mark.parametrize(("page", "message"), [
    (np.zeros((100, 100, 3), dtype=np.uint8), "uint8 \\[height, width\\]"),
    (np.zeros((100, 100), dtype=np.float32), "uint8 \\[height, width\\]"),
    (np.zeros((0, 100), dtype=np.uint8), "too small"),
])
def test_page_arrays_sent_directly_are_checked_too(page: np.ndarray, message: str):
    with pytest.raises(InvalidImageError, match=message):
        check_page_array(page)
    check_page_array(np.zeros((100, 100), dtype=np.uint8))
