"""Decode an encoded page image (PNG, JPEG, TIFF, ...) into pixels, refusing what is not one.

Every pipeline that takes page bytes from a client starts here, so the checks live in one place:
bytes that are no image, and images whose declared size would need more memory than a page
ever should (decompression bombs: a few kilobytes of PNG can declare 100k x 100k pixels). The
size is read from the header *before* any pixel is decoded, so a bomb costs nothing.

Two views of the same page: RGB for OCR (``decode_page``) and grayscale for the vision models
(``decode_page_gray``); both upright (EXIF) and opaque (transparent pixels on white paper).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from docserve.processing.step_errors import StepInputError

# An A4 page scanned at 600 dpi is 35 Mpx; anything bigger is no single page we serve. The
# configs of page_decode and text_detection_preprocess restate it (a test ties them).
DEFAULT_MAX_PAGE_PIXELS = 40_000_000
# The vision models read a 512 px thumbnail: below this a page holds nothing they can see.
MIN_SIDE_PX = 64


class InvalidImageError(StepInputError):
    """The bytes are not an image we can decode (the client's fault: INVALID_ARG)."""


class ImageTooLargeError(InvalidImageError):
    """The image declares more pixels than allowed (a decompression bomb or a poster)."""


def decode_page(data: bytes, max_pixels: int = DEFAULT_MAX_PAGE_PIXELS, min_side: int = 1) -> np.ndarray:
    """Decode the first frame of an encoded image into RGB ``uint8`` ``[height, width, 3]``.

    Raises :class:`InvalidImageError` for empty or non-image bytes, truncated files and images
    with a side under ``min_side``, and :class:`ImageTooLargeError` when ``width * height >
    max_pixels``.
    """
    return _decode(data, max_pixels, min_side, mode="RGB")


def decode_page_gray(
    data: bytes, max_pixels: int = DEFAULT_MAX_PAGE_PIXELS, min_side: int = MIN_SIDE_PX
) -> np.ndarray:
    """Like :func:`decode_page`, as the grayscale ``uint8 [height, width]`` page the vision
    models read."""
    return _decode(data, max_pixels, min_side, mode="L")


def check_page_array(page: np.ndarray, min_side: int = MIN_SIDE_PX) -> np.ndarray:
    """Refuse a ``page`` tensor sent directly (not as bytes) that no model can read; the page
    itself when one can, so a step reads and checks its input in one expression."""
    if page.ndim != 2 or page.dtype != np.uint8:
        raise InvalidImageError(
            f"'page' must be a uint8 [height, width] array, got {page.dtype} {list(page.shape)}"
        )
    _check_min_side(page.shape[1], page.shape[0], min_side)
    return page


def _decode(data: bytes, max_pixels: int, min_side: int, mode: str) -> np.ndarray:
    image = _open(data)
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"page image is {width}x{height} = {width * height} pixels, more than the "
            f"{max_pixels} allowed; send a lower resolution"
        )
    _check_min_side(width, height, min_side)
    try:
        return np.asarray(as_seen_on_paper(image).convert(mode), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt pixel data
        raise InvalidImageError(f"corrupt {image.format} image: {error}") from error


def _open(data: bytes) -> Image.Image:
    """The image's header only: no pixel is decoded here."""
    if not data:
        raise InvalidImageError("empty page image: expected PNG, JPEG or TIFF bytes")
    try:
        with warnings.catch_warnings():
            # PIL's own bomb check is a warning below 2x its limit; ours is the one that counts.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(f"page image too large: {error}") from error
    except (UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise InvalidImageError(
            f"not an image format we can decode ({len(data)} bytes starting {data[:8]!r}); "
            "send PNG, JPEG or TIFF"
        ) from error


def _check_min_side(width: int, height: int, min_side: int) -> None:
    if min(width, height) < min_side:
        raise InvalidImageError(
            f"page image is {width}x{height} pixels: too small for a page (minimum side {min_side})"
        )


def as_seen_on_paper(image: Image.Image) -> Image.Image:
    """RGB, upright and opaque: as a viewer shows the page.

    Phone photos store their rotation in EXIF and are turned upright here (coordinates refer to
    the upright page). Transparent pixels would become black with a plain RGB conversion, hiding
    black text on a transparent background; they are laid on white paper instead. Grayscale
    pages of more than 8 bits are scaled down first (:func:`to_8_bit`).
    """
    image = to_8_bit(ImageOps.exif_transpose(image))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = Image.alpha_composite(
            Image.new("RGBA", image.size, "white"), image.convert("RGBA")
        )
    return image.convert("RGB")


def to_8_bit(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit integer or float grayscale image as 8-bit ``L``, scaled by its range.

    PIL's own conversion of these modes to ``L``/``RGB`` clips: every value over 255 becomes
    white, so a 16-bit scan (paper near 65535, ink near 0 but over 255) turns into a blank page.
    The range is the type's: 16 bits for ``I;16*`` and for ``I`` (int32, what PIL makes of
    16-bit data too) whose values fit 16 bits, else 31 bits; for ``F``, [0, 1] or [0, 255] when
    the values lie there, else 16 bits, else the largest value. Other modes pass through.
    """
    if image.mode not in ("I", "F") and not image.mode.startswith("I;16"):
        return image
    pixels = np.asarray(image, dtype=np.float64)
    top = float(pixels.max()) if pixels.size else 0.0
    if image.mode.startswith("I;16"):
        full_scale = 65535.0
    elif image.mode == "I":
        full_scale = 65535.0 if top <= 65535 else 2.0**31 - 1
    else:
        full_scale = next((scale for scale in (1.0, 255.0, 65535.0) if top <= scale), top)
    scaled = np.clip(np.rint(pixels * (255.0 / full_scale)), 0, 255).astype(np.uint8)
    return Image.fromarray(scaled, mode="L")
