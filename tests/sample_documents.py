"""Small real documents for the job and fetch tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

# Test-only Triton models (a minimal real document pipeline), loaded into the scratch repository.
FIXTURE_REPOSITORY = Path(__file__).resolve().parent / "fixtures" / "repository"


def png_page(width: int = 320, height: int = 200, shade: int = 200) -> bytes:
    """A real PNG page (PIL), distinct per size/shade so results can be traced back."""
    buffer = io.BytesIO()
    Image.new("L", (width, height), color=shade).save(buffer, format="PNG")
    return buffer.getvalue()


def pdf_document(sizes: list[tuple[int, int]]) -> bytes:
    """A multi-page PDF whose pages have the given sizes in points."""
    pages = [Image.new("RGB", size, color=(255, 255, 255)) for size in sizes]
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", save_all=True, append_images=pages[1:], resolution=72)
    return buffer.getvalue()


def turned(image: np.ndarray, degrees: int) -> np.ndarray:
    """The page with its content turned ``degrees`` counter-clockwise (as a scanner might)."""
    return np.asarray(Image.fromarray(image).rotate(degrees, expand=True))


def on_turned_page(points: np.ndarray, height: int, width: int, degrees: int) -> np.ndarray:
    """``[..., 2]`` points of a ``height x width`` upright page -> the same points on
    ``turned(page, degrees)``: PIL's counter-clockwise quarter turns, written out."""
    x, y = np.asarray(points, dtype=np.float64)[..., 0], np.asarray(points, dtype=np.float64)[..., 1]
    turned_xy = {0: (x, y), 90: (y, width - x), 180: (width - x, height - y), 270: (height - y, x)}
    return np.stack(turned_xy[degrees], axis=-1)
