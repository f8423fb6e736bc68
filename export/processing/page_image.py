"""Decode an encoded page image (PNG, JPEG, TIFF, ...) into pixels, refusing what is not one.

Every pipeline that takes page bytes from a client starts here, so the checks live in one place:
bytes that are no image, and images whose declared size would need more memory than a page
ever should (decompression bombs: a few kilobytes of PNG can declare 100k x 100k pixels). The
size is read from the header *before* any pixel is decoded, so a bomb costs nothing.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# An A4 page scanned at 600 dpi is 35 Mpx; anything bigger is no single page we serve.
DEFAULT_MAX_PAGE_PIXELS = 40_000_000


class InvalidImageError(ValueError):
    """The bytes are not an image we can decode (the client's fault: INVALID_ARG)."""


class ImageTooLargeError(InvalidImageError):
    """The image declares more pixels than allowed (a decompression bomb or a poster)."""


def decode_page(data: bytes, max_pixels: int = DEFAULT_MAX_PAGE_PIXELS) -> np.ndarray:
    """Decode the first frame of an encoded image into RGB ``uint8`` ``[height, width, 3]``.

    Raises :class:`InvalidImageError` for empty or non-image bytes and for truncated files, and
    :class:`ImageTooLargeError` when ``width * height > max_pixels``.
    """
    if not data:
        raise InvalidImageError("empty page image: expected PNG, JPEG or TIFF bytes")
    try:
        with warnings.catch_warnings():
            # PIL's own bomb check is a warning below 2x its limit; ours is the one that counts.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(f"page image too large: {error}") from error
    except UnidentifiedImageError as error:
        raise InvalidImageError(
            f"not an image format we can decode ({len(data)} bytes starting {data[:8]!r}); "
            "send PNG, JPEG or TIFF"
        ) from error
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"page image is {width}x{height} = {width * height} pixels, more than the "
            f"{max_pixels} allowed; send a lower resolution"
        )
    try:
        return np.asarray(as_seen_on_paper(image))
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt pixel data
        raise InvalidImageError(f"corrupt {image.format} image: {error}") from error


def as_seen_on_paper(image: Image.Image) -> Image.Image:
    """RGB, upright and opaque: as a viewer shows the page.

    Phone photos store their rotation in EXIF and are turned upright here (coordinates refer to
    the upright page). Transparent pixels would become black with a plain RGB conversion, hiding
    black text on a transparent background; they are laid on white paper instead.
    """
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = Image.alpha_composite(
            Image.new("RGBA", image.size, "white"), image.convert("RGBA")
        )
    return image.convert("RGB")
