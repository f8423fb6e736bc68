"""Encoded image bytes (PNG, JPEG, TIFF, ...) -> the grayscale page array every model reads.

Untrusted input: the header is read first and the pixel count checked before anything is
decoded, so a small file claiming gigapixels (a decompression bomb) is refused cheaply; anything
that is not an image, or too small to hold a page, is refused with a message a client can act on.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 40_000_000  # an A3 page at 400 dpi is ~31 Mpx
MIN_SIDE_PX = 64


class InvalidImageError(ValueError):
    """The bytes are not a decodable page image within the accepted size range."""


def decode_page(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS,
                min_side: int = MIN_SIDE_PX) -> np.ndarray:
    """Decode ``data`` into a ``uint8 [height, width]`` grayscale page (first frame of a TIFF)."""
    if not data:
        raise InvalidImageError("empty input: expected the bytes of a PNG, JPEG or TIFF image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_size(image.size, max_pixels, min_side)
            gray = image.convert("L")
    except InvalidImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InvalidImageError(
            f"image exceeds the limit of {max_pixels} pixels (decompression bomb?): {error}"
        ) from error
    except UnidentifiedImageError as error:
        raise InvalidImageError(f"not a decodable image ({len(data)} bytes): {error}") from error
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt image data
        raise InvalidImageError(f"corrupt image data ({len(data)} bytes): {error}") from error
    return np.asarray(gray, dtype=np.uint8)


def check_page_array(page: np.ndarray, min_side: int = MIN_SIDE_PX) -> None:
    """Refuse a ``page`` tensor sent directly (not as bytes) that no model can read."""
    if page.ndim != 2 or page.dtype != np.uint8:
        raise InvalidImageError(
            f"'page' must be a uint8 [height, width] array, got {page.dtype} {list(page.shape)}"
        )
    _check_min_side(page.shape[1], page.shape[0], min_side)


def _check_size(size: tuple[int, int], max_pixels: int, min_side: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise InvalidImageError(
            f"image of {width}x{height} pixels exceeds the limit of {max_pixels} pixels"
        )
    _check_min_side(width, height, min_side)


def _check_min_side(width: int, height: int, min_side: int) -> None:
    if min(width, height) < min_side:
        raise InvalidImageError(
            f"image of {width}x{height} pixels is too small for a page (minimum side {min_side})"
        )
