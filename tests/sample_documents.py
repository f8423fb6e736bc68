"""Small real documents for the job and fetch tests."""

from __future__ import annotations

import io
from pathlib import Path

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
