"""The REST client against a live gateway and the real Triton."""

from __future__ import annotations

import asyncio

import pytest
from sample_documents import pdf_document, png_page

from docserve.client.rest import (
    AsyncDocServeClient,
    ClientError,
    Conflict,
    DocServeClient,
    DocServeError,
    NotFound,
    WaitTimeout,
)
from docserve.contract.jobs import JobStatus


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


def test_typed_errors(live_gateway):
    base, inbox = live_gateway
    (inbox / "b.png").write_bytes(png_page())
    with DocServeClient(base) as client:
        with pytest.raises(NotFound):
            client.receive("never-sent")
        with pytest.raises(NotFound):
            client.send("c-404", f"file://{inbox}/b.png", pipeline="nope")
        client.send("c-409", f"file://{inbox}/b.png", pipeline="page_probe_pipeline")
        with pytest.raises(Conflict):
            client.send("c-409", f"file://{inbox}/b.png", pipeline="page_probe_pipeline", pages=[1])
        with pytest.raises(ClientError) as refused:
            client.send("c-422", "ftp://example.com/a.png", pipeline="page_probe_pipeline")
        assert refused.value.status == 422 and refused.value.code == "invalid_document"


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
    finished = {item.request_id: item for item in results if not isinstance(item, DocServeError)}
    errors = [item for item in results if isinstance(item, DocServeError)]
    assert len(finished) == 12 and len(errors) == 1
    assert errors[0].code == "invalid_document" and errors[0].request_id == "many-bad"
    assert all(job.status == JobStatus.SUCCEEDED for job in finished.values())
    assert finished["many-5"].result.pages[0].result.page.width == 25
