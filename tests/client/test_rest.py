"""The REST client against a live gateway and the real Triton."""

from __future__ import annotations

import asyncio
import io
import threading
import time

import httpx
import pytest
from live_gateway import serve
from PIL import Image
from sample_documents import pdf_document, png_page

from docserve.api.app import create_app
from docserve.client.rest import AsyncDocServeClient, DocServeClient, WaitTimeout
from docserve.contract.errors import (
    ConflictError,
    DocserveError,
    DocumentError,
    NotFoundError,
    QueueFullError,
)
from docserve.contract.jobs import JobStatus, JobView


def test_send_receive_wait(live_gateway):
    base, inbox = live_gateway
    (inbox / "a.png").write_bytes(png_page(40, 30))
    with DocServeClient(base) as client:
        sent = client.send("client-1", f"file://{inbox}/a.png", pipeline="page_probe_pipeline")
        assert sent.request_id == "client-1"
        job = client.wait("client-1", timeout=30)
        assert job.status == JobStatus.SUCCEEDED
        assert job.result.pages[0].result.page.width == 40
        assert client.receive("client-1") == job


def test_progress_and_page_images_sync_and_async(live_gateway):
    base, _ = live_gateway
    document = pdf_document([(200, 300), (300, 200)])
    with DocServeClient(base) as client:
        client.upload("client-pages", document, pipeline="page_probe_pipeline")
        job = client.wait("client-pages", timeout=30)
        assert job.status == JobStatus.SUCCEEDED
        assert (job.progress.pages_total, job.progress.pages_done) == (2, 2)
        assert client.receive("client-pages", partial=True).partial is None  # the result has them
        for entry in job.result.pages:
            image = Image.open(io.BytesIO(client.page_image("client-pages", entry.page)))
            assert (image.format, image.size) == ("PNG", (entry.result.page.width, entry.result.page.height))
        with pytest.raises(NotFoundError, match="no page 3"):
            client.page_image("client-pages", 3)
        second = client.page_image("client-pages", 2)

    async def read() -> bytes:
        async with AsyncDocServeClient(base) as client:
            assert (await client.receive("client-pages", partial=True)).progress.pages_done == 2
            return await client.page_image("client-pages", 2)

    assert asyncio.run(read()) == second


def test_typed_errors(live_gateway):
    base, inbox = live_gateway
    (inbox / "b.png").write_bytes(png_page())
    with DocServeClient(base) as client:
        with pytest.raises(NotFoundError):
            client.receive("never-sent")
        with pytest.raises(NotFoundError):
            client.send("c-404", f"file://{inbox}/b.png", pipeline="nope")
        client.send("c-409", f"file://{inbox}/b.png", pipeline="page_probe_pipeline")
        with pytest.raises(ConflictError):
            client.send("c-409", f"file://{inbox}/b.png", pipeline="page_probe_pipeline", pages=[1])
        with pytest.raises(DocumentError) as refused:
            client.send("c-422", "ftp://example.com/a.png", pipeline="page_probe_pipeline")
        assert refused.value.status_code == 422 and refused.value.code == "invalid_document"


def test_wait_times_out_with_its_own_error(live_gateway, document_server):
    base, _ = live_gateway
    server, handler = document_server
    handler.documents["/c-slow.png"] = png_page()
    with DocServeClient(base) as client:
        client.send("c-slow", f"{server}/slow/c-slow.png", pipeline="page_probe_pipeline")  # 3 s
        with pytest.raises(WaitTimeout):
            client.wait("c-slow", timeout=0.5)
        assert client.wait("c-slow", timeout=30).status == JobStatus.SUCCEEDED


def test_predict_uploads_a_document(live_gateway, tmp_path):
    base, _ = live_gateway
    path = tmp_path / "two.pdf"
    path.write_bytes(pdf_document([(72, 72), (72, 144)]))
    with DocServeClient(base) as client:
        result = client.predict(path, "page_probe_pipeline", pages=[2])
        assert [page.page for page in result.pages] == [2]
        predicted = client.predict(png_page(9, 9), "page_probe_pipeline")
        assert predicted.pages[0].result.page.width == 9
        assert "page_probe_pipeline" in {p["name"] for p in client.pipelines()}


def test_submit_many_yields_every_job_as_it_finishes(live_gateway):
    base, inbox = live_gateway
    for index in range(12):
        (inbox / f"m{index}.png").write_bytes(png_page(20 + index, 10))
    jobs = [(f"many-{index}", f"file://{inbox}/m{index}.png") for index in range(12)]
    jobs.append(("many-bad", "ftp://nowhere/x.png"))

    async def collect():
        async with AsyncDocServeClient(base) as client:
            return [item async for item in client.submit_many(jobs, "page_probe_pipeline", concurrency=4)]

    results = asyncio.run(collect())
    finished = {item.request_id: item for item in results if not isinstance(item, DocserveError)}
    errors = [item for item in results if isinstance(item, DocserveError)]
    assert len(finished) == 12 and len(errors) == 1
    assert errors[0].code == "invalid_document" and errors[0].request_id == "many-bad"
    assert all(job.status == JobStatus.SUCCEEDED for job in finished.values())
    assert finished["many-5"].result.pages[0].result.page.width == 25


@pytest.fixture
def full_queue(triton_settings, tmp_path, probe_pipeline):
    """A gateway whose queue (two jobs, no workers) is full, after 30 jobs finished in the last
    minute: its Retry-After is 2 s (one job's room at that pace)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.png").write_bytes(png_page(20, 10))
    settings = triton_settings.model_copy(update={"data_dir": tmp_path / "data", "file_roots": [inbox]})
    jobs = [(f"done-{index}", f"file://{inbox}/a.png") for index in range(30)]

    async def finish_jobs(base: str) -> list:
        async with AsyncDocServeClient(base) as client:
            return [item async for item in client.submit_many(jobs, "page_probe_pipeline")]

    with serve(create_app(settings)) as (host, port):
        assert all(job.status == JobStatus.SUCCEEDED for job in asyncio.run(finish_jobs(f"http://{host}:{port}")))
    queue_only = settings.model_copy(update={"max_queue": 2, "run_workers": False})
    with serve(create_app(queue_only)) as (host, port), DocServeClient(f"http://{host}:{port}") as client:
        for index in range(2):
            client.send(f"queued-{index}", f"file://{inbox}/a.png", pipeline="page_probe_pipeline")
        yield f"http://{host}:{port}", f"file://{inbox}/a.png"


def _send(flavour: str, base: str, request_id: str, location: str, max_queue_wait_s: float) -> JobView:
    if flavour == "sync":
        with DocServeClient(base, max_queue_wait_s=max_queue_wait_s) as client:
            return client.send(request_id, location, pipeline="page_probe_pipeline")

    async def send() -> JobView:
        async with AsyncDocServeClient(base, max_queue_wait_s=max_queue_wait_s) as client:
            return await client.send(request_id, location, pipeline="page_probe_pipeline")

    return asyncio.run(send())


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_both_clients_wait_out_a_full_queue_for_a_bounded_time(full_queue, flavour):
    base, location = full_queue
    started = time.monotonic()
    with pytest.raises(QueueFullError) as full:  # the gateway's 2 s are more than the client waits
        _send(flavour, base, "late-1", location, max_queue_wait_s=1)
    assert (full.value.status_code, full.value.retry_after_s) == (429, 2)
    assert time.monotonic() - started < 1
    # Room is made while the client waits out the Retry-After: the same call queues the job.
    threading.Timer(0.5, lambda: httpx.delete(f"{base}/api/v1/jobs/queued-0")).start()
    started = time.monotonic()
    job = _send(flavour, base, "late-1", location, max_queue_wait_s=30)
    assert job.status == JobStatus.QUEUED and job.request_id == "late-1"
    assert time.monotonic() - started >= 2
