"""``docserve submit``: many documents through a pipeline, with progress and a summary.

Three ways in:
- ``rest``: each document becomes a job: local files are uploaded with it (the gateway needs no
  access to this machine's disk); locations (http(s)://, s3://, a server-side file://) are sent
  as they are, for the workers to fetch.
- ``grpc``: each document is split into pages here and the pages go straight to Triton (the
  high-throughput path; no queue, no gateway).
- ``kafka``: each document becomes a ``JobRequest`` on the request topic and its ``JobResult``
  is read from the result topic (the scale-out mode; the workers fetch the locations).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from docserve.client.rest import AsyncDocServeClient, JobDocument
from docserve.client.triton import TritonPipelineClient
from docserve.contract.errors import DocserveError
from docserve.contract.jobs import JobStatus
from docserve.contract.page_result import DocumentResult, PageEntry
from docserve.processing.document_pages import PageLimits, split_pages

DOCUMENT_SUFFIXES = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}


@dataclass
class Outcome:
    source: str
    ok: bool
    pages: int = 0
    result: DocumentResult | None = None
    error: str = ""


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    @property
    def pages(self) -> int:
        return sum(outcome.pages for outcome in self.outcomes)


def collect(sources: Iterable[str]) -> list[str]:
    """Files, folders (their documents, sorted) and URLs, in the order given."""
    found: list[str] = []
    for source in sources:
        if "://" in source:
            found.append(source)
            continue
        path = Path(source)
        if path.is_dir():
            documents = sorted(p for p in path.rglob("*") if p.suffix.lower() in DOCUMENT_SUFFIXES)
            found += [str(p.resolve()) for p in documents]
        else:
            found.append(str(path.resolve()))
    return found


def request_id_for(source: str, content_digest: str = "") -> str:
    """Stable per source (and, for a local file, its content): submitting the same folder twice
    does not queue duplicates, and a file changed since is a new job."""
    return "cli-" + hashlib.sha256(f"{source}\0{content_digest}".encode()).hexdigest()[:24]


def _job_document(source: str) -> tuple[str, JobDocument]:
    """``(request_id, what to send)``: a location as it is, a local file to upload (read only
    when it is sent; hashed here, in chunks, for its request id). Raises OSError if unreadable."""
    if "://" in source:
        return request_id_for(source), source
    digest = hashlib.sha256()
    with open(source, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return request_id_for(source, digest.hexdigest()), Path(source)


def _job_documents(sources: list[str], progress: Progress,
                   task: Any) -> tuple[dict[str, tuple[str, JobDocument]], list[Outcome]]:
    """request id -> (source, document) of every readable source; the unreadable ones as failed
    outcomes (already counted on the progress bar)."""
    documents, outcomes = {}, []
    for source in sources:
        try:
            request_id, document = _job_document(source)
        except OSError as error:
            outcomes.append(Outcome(source, ok=False, error=str(error)))
            progress.advance(task)
            continue
        documents[request_id] = (source, document)
    return documents, outcomes


async def via_rest(sources: list[str], pipeline: str, base_url: str, concurrency: int,
                   progress: Progress, task: Any, api_key: str | None = None) -> list[Outcome]:
    documents, outcomes = _job_documents(sources, progress, task)
    async with AsyncDocServeClient(base_url, api_key=api_key) as client:
        jobs = [(request_id, document) for request_id, (_, document) in documents.items()]
        async for item in client.submit_many(jobs, pipeline, concurrency=concurrency):
            if isinstance(item, DocserveError):
                source = documents[item.request_id][0]  # type: ignore[attr-defined]
                outcomes.append(Outcome(source, ok=False, error=f"{item.code}: {item.message}"))
            else:
                source = documents[item.request_id][0]
                if item.status == JobStatus.SUCCEEDED:
                    pages = len(item.result.pages) if item.result else 0
                    outcomes.append(Outcome(source, ok=True, pages=pages, result=item.result))
                else:
                    error = f"{item.error.code}: {item.error.message}" if item.error else item.status.value
                    outcomes.append(Outcome(source, ok=False, error=error))
            progress.advance(task)
    return outcomes


async def via_grpc(sources: list[str], pipeline: str, triton_url: str, concurrency: int,
                   limits: PageLimits, progress: Progress, task: Any) -> list[Outcome]:
    """``concurrency`` lanes, each taking the next document and sending its pages in order."""
    pending = iter(sources)
    outcomes: list[Outcome] = []

    async with TritonPipelineClient(triton_url) as triton:

        async def lane() -> None:
            for source in pending:
                outcomes.append(await _analyze_file(triton, source, pipeline, limits))
                progress.advance(task)

        await asyncio.gather(*(lane() for _ in range(concurrency)))
    return outcomes


async def _analyze_file(triton: TritonPipelineClient, source: str, pipeline: str,
                        limits: PageLimits) -> Outcome:
    try:
        if "://" in source:
            raise DocserveError("--via grpc reads local files; send URLs with --via rest")
        pages = await asyncio.to_thread(split_pages, Path(source).read_bytes(), limits)
        results = []
        for number, page in enumerate(pages, start=1):
            started = time.perf_counter()
            result = await triton.analyze(page, pipeline)
            results.append(PageEntry(page=number, seconds=round(time.perf_counter() - started, 4),
                                     result=result))
    except DocserveError as error:
        return Outcome(source, ok=False, error=f"{error.code}: {error.message}")
    except OSError as error:
        return Outcome(source, ok=False, error=str(error))
    result = DocumentResult(pipeline=pipeline, page_count=len(pages), pages=results, timings={})
    return Outcome(source, ok=True, pages=len(pages), result=result)


@dataclass(frozen=True)
class KafkaTarget:
    """Where ``--via kafka`` sends requests and reads results (README, "Scale out")."""

    bootstrap_servers: str
    schema_registry_url: str
    request_topic: str = "docserve.requests"
    result_topic: str = "docserve.results"
    timeout_s: float = 3600.0


def via_kafka(sources: list[str], pipeline: str, target: KafkaTarget, progress: Progress,
              task: Any) -> list[Outcome]:
    """Every document as a ``JobRequest`` on the request topic, then its ``JobResult``: a local
    file is sent as its ``file://`` location (the workers must see the same filesystem)."""
    from docserve.client.kafka_jobs import KafkaJobClient  # the scale-out extra: imported when used

    documents, outcomes = _job_documents(sources, progress, task)
    documents = {request_id: (source, document.resolve().as_uri() if isinstance(document, Path) else document)
                 for request_id, (source, document) in documents.items()}
    with KafkaJobClient(target.bootstrap_servers, target.schema_registry_url, target.request_topic,
                        target.result_topic) as client:
        for request_id, (_, location) in documents.items():
            client.submit(request_id, pipeline, location)
        try:
            results = client.wait(list(documents), timeout_s=target.timeout_s)
        except TimeoutError as error:
            results = {}
            outcomes += [Outcome(source, ok=False, error=str(error)) for source, _ in documents.values()]
    for request_id, result in results.items():
        source = documents[request_id][0]
        if result.status == JobStatus.SUCCEEDED.value and result.result is not None:
            analysed = DocumentResult.model_validate(result.result)
            outcomes.append(Outcome(source, ok=True, pages=len(analysed.pages), result=analysed))
        else:
            outcomes.append(Outcome(source, ok=False, error=f"{result.error_code}: {result.error_message}"))
        progress.advance(task)
    return outcomes


def run(sources: list[str], pipeline: str, via: str, concurrency: int, base_url: str,
        triton_url: str, limits: PageLimits, out: TextIO | None, api_key: str | None = None,
        kafka: KafkaTarget | None = None) -> Summary:
    summary = Summary()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    started = time.perf_counter()
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(f"{pipeline} via {via}", total=len(sources))
        if via == "kafka":
            assert kafka is not None
            summary.outcomes = via_kafka(sources, pipeline, kafka, progress, task)
        elif via == "rest":
            summary.outcomes = asyncio.run(
                via_rest(sources, pipeline, base_url, concurrency, progress, task, api_key))
        else:
            summary.outcomes = asyncio.run(
                via_grpc(sources, pipeline, triton_url, concurrency, limits, progress, task))
    summary.seconds = time.perf_counter() - started
    if out is not None:
        for outcome in summary.outcomes:
            result = outcome.result.model_dump(mode="json") if outcome.result else None
            out.write(json.dumps({"source": outcome.source, "ok": outcome.ok, "error": outcome.error or None,
                                  "result": result}) + "\n")
    return summary
