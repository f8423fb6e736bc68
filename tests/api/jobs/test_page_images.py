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
        images.save(None, request_id, 2, page)
        images.save(None, request_id, 5, page)
    assert images.numbers(None, "kept") == [2, 5]
    assert _pixels(images.read(None, "kept", 2)).shape == (20, 30, 3)
    with pytest.raises(NotFoundError, match=r"no page 3; its page images: \[2, 5\]"):
        images.read(None, "kept", 3)
    assert await images.sweep(jobs) == 1  # "gone" has no job record
    assert images.numbers(None, "gone") == [] and images.numbers(None, "kept") == [2, 5]
    with pytest.raises(NotFoundError, match="no page images"):
        images.read(None, "gone", 2)
    images.clear(None, "kept")  # a new attempt starts over
    assert images.numbers(None, "kept") == []
    images.save(None, "kept", 1, page)
    old = os.stat(images.folder(None, "kept")).st_mtime
    assert await images.sweep(jobs, now=old + 3599) == 0
    assert await images.sweep(jobs, now=old + 3601) == 1  # past the retention, job or not
    assert images.numbers(None, "kept") == []
    await jobs.close()


async def test_two_owners_images_of_one_request_id_are_kept_apart(tmp_path):
    jobs = SqliteJobs(tmp_path / "jobs.sqlite3", max_queue=10)
    images = PageImageStore(tmp_path / "pages", retention_s=3600)
    page = _encoded(Image.new("L", (30, 20), 128), "PNG")
    await jobs.submit(JobRequest("alice-1", "p", "file:///x", owner="alice"))
    images.save("alice", "alice-1", 1, page)
    images.save("bob", "alice-1", 2, page)  # bob's job of that id is gone: its images go, alice's stay
    with pytest.raises(NotFoundError):
        images.read("bob", "alice-1", 1)
    assert await images.sweep(jobs) == 1
    assert images.numbers("alice", "alice-1") == [1] and images.numbers("bob", "alice-1") == []
    images.delete("bob", "alice-1")
    assert images.numbers("alice", "alice-1") == [1]
    await jobs.close()


async def test_the_sweep_moves_the_images_of_an_earlier_version_under_their_job_s_owner(tmp_path):
    jobs = SqliteJobs(tmp_path / "jobs.sqlite3", max_queue=10)
    images = PageImageStore(tmp_path / "pages", retention_s=3600)
    await jobs.submit(JobRequest("alice-1", "p", "file:///x", owner="alice"))
    for request_id in ("alice-1", "gone"):  # pages/<request_id>/<n>.png, as earlier versions kept them
        (tmp_path / "pages" / request_id).mkdir()
        (tmp_path / "pages" / request_id / "3.png").write_bytes(b"png of page 3")
    assert await images.sweep(jobs) == 1  # "gone" had no job
    assert images.read("alice", "alice-1", 3) == b"png of page 3"
    assert sorted(path.name for path in (tmp_path / "pages").iterdir()) == ["~616c696365"]
    await jobs.close()
