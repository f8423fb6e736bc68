"""Traces through the real gateway, workers and Triton, read from the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from job_polling import wait_for_job
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sample_documents import pdf_document, png_page

from docserve.api.app import create_app
from docserve.api.tracing import configure_tracing

PIPELINE = "page_probe_pipeline"


@pytest.fixture
def spans(jobs_settings) -> Iterator[InMemorySpanExporter]:
    configure_tracing(jobs_settings)  # the process's provider, as the app installs it
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    trace.get_tracer_provider().add_span_processor(processor)
    yield exporter
    processor.shutdown()


def _trace(exporter: InMemorySpanExporter, trace_id: str) -> list:
    finished = exporter.get_finished_spans()
    return [span for span in finished if format(span.context.trace_id, "032x") == trace_id]


def test_one_trace_per_job_from_submission_to_the_stored_result(jobs_settings, probe_pipeline, inbox, spans):
    (inbox / "two.pdf").write_bytes(pdf_document([(72, 72), (72, 100)]))
    with TestClient(create_app(jobs_settings)) as client:
        body = {"request_id": "traced-1", "pipeline": PIPELINE, "location": f"file://{inbox}/two.pdf"}
        submitted = client.post("/api/v1/jobs", json=body)
        trace_id = submitted.headers["x-trace-id"]
        job = wait_for_job(client, "traced-1")
    assert job["status"] == "succeeded" and job["trace_id"] == trace_id
    by_name: dict[str, list] = {}
    for span in _trace(spans, trace_id):
        by_name.setdefault(span.name, []).append(span)
    assert {"POST /api/v1/jobs", "job", "job.queue_wait", "document.fetch", "document.analyze",
            "triton.infer", "store.write"} <= by_name.keys(), sorted(by_name)
    (submit,) = [span for span in by_name["POST /api/v1/jobs"] if span.kind == SpanKind.SERVER]
    (run,) = by_name["job"]
    request_spans = {span.context.span_id for span in _trace(spans, trace_id)
                     if span.name.startswith(("POST ", "fastapi."))}  # the request's own spans
    assert submit.context.span_id in request_spans
    assert run.parent.span_id in request_spans  # the worker continued the submission's trace
    assert run.attributes["docserve.request_id"] == "traced-1" and run.attributes["docserve.attempt"] == 1
    for child in ("job.queue_wait", "document.fetch", "document.analyze", "store.write"):
        assert by_name[child][0].parent.span_id == run.context.span_id, child
    analyze = by_name["document.analyze"][0]
    pages = by_name["triton.infer"]
    assert len(pages) == 2 and all(page.parent.span_id == analyze.context.span_id for page in pages)
    assert {page.attributes["docserve.request_id"] for page in pages} == {"traced-1"}
    assert all(page.attributes["docserve.pipeline"] == PIPELINE for page in pages)


def test_synchronous_predict_is_one_trace_too(jobs_settings, probe_pipeline, spans):
    with TestClient(create_app(jobs_settings)) as client:
        answer = client.post(f"/api/v1/pipelines/{PIPELINE}/predict",
                             files={"document": ("page.png", png_page(30, 20))})
    assert answer.status_code == 200
    spans_of_request = _trace(spans, answer.headers["x-trace-id"])
    names = [span.name for span in spans_of_request]
    assert "POST /api/v1/pipelines/{name}/predict" in names and "triton.infer" in names
    (request,) = [span for span in spans_of_request if span.kind == SpanKind.SERVER]
    (page,) = [span for span in spans_of_request if span.name == "triton.infer"]
    assert page.context.trace_id == request.context.trace_id and page.parent is not None
    assert request.attributes["http.response.status_code"] == 200
