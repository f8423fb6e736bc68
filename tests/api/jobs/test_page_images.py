"""Page images: kept as the pipeline decodes the page, replaced by a new attempt, gone with their job."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from docserve.api.jobs.page_images import PageImageStore, page_png
from docserve.api.jobs.records import JobRequest
from docserve.api.jobs.sqlite_jobs import SqliteJobs
from docserve.contract.errors import NotFoundError

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _encoded(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _pixels(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return np.asarray(image)


def test_a_page_is_kept_upright_opaque_and_8_bit_as_the_pipeline_decodes_it():
    photo = Image.new("RGB", (40, 20), (250, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: viewers (and the decode step) turn it a quarter
    assert _pixels(page_png(_encoded(photo, "JPEG", exif=exif))).shape == (40, 20, 3)
    clear = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    assert (_pixels(page_png(_encoded(clear, "PNG"))) == 255).all()  # transparent -> white paper
    deep = Image.fromarray(np.full((6, 6), 65535, dtype=np.uint16))
    assert (_pixels(page_png(_encoded(deep, "PNG"))) == 255).all()  # 16-bit white stays white


async def test_images_are_replaced_by_a_new_attempt_and_swept_with_their_job(tmp_path):
    jobs = SqliteJobs(tmp_path / "jobs.sqlite3", max_queue=10)
    images = PageImageStore(tmp_path / "pages", retention_s=3600)
    page = _encoded(Image.new("L", (30, 20), 128), "PNG")
    await jobs.submit(JobRequest("kept", "p", "file:///x"))
    for request_id in ("kept", "gone"):
        images.save(request_id, 2, page)
        images.save(request_id, 5, page)
    assert images.numbers("kept") == [2, 5]
    assert _pixels(images.read("kept", 2)).shape == (20, 30, 3)
    with pytest.raises(NotFoundError, match=r"no page 3; its page images: \[2, 5\]"):
        images.read("kept", 3)
    assert await images.sweep(jobs) == 1  # "gone" has no job record
    assert images.numbers("gone") == [] and images.numbers("kept") == [2, 5]
    with pytest.raises(NotFoundError, match="no page images"):
        images.read("gone", 2)
    images.clear("kept")  # a new attempt starts over
    assert images.numbers("kept") == []
    images.save("kept", 1, page)
    old = os.stat(images.folder("kept")).st_mtime
    assert await images.sweep(jobs, now=old + 3599) == 0
    assert await images.sweep(jobs, now=old + 3601) == 1  # past the retention, job or not
    assert images.numbers("kept") == []
    await jobs.close()
