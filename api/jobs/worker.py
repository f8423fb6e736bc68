"""Workers: claim jobs from the queue, fetch and analyse the document, settle the attempt with its outcome.

``worker_concurrency`` jobs run at once per process: that bound is the throttle toward Triton.
A job's lease is renewed while it runs; if this process dies, the lease runs out and another
worker (or this one after a restart) takes the job again; a graceful stop releases the jobs in
flight, which restart at once. Errors marked ``transient`` (Triton
unavailable, a fetch that timed out) are retried with exponential backoff; the others fail the
job at once with their error code; a pipeline missing from Triton is transient too, since it was
there when the job was accepted. A job's attempts are its only retry loop: the Triton calls
made inside one are tried once each (:func:`retried_by_caller`), so a job makes at most
``job_max_attempts`` calls per page to an unavailable Triton.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Iterator

from loguru import logger

from docserve.api.documents.service import Budget, DocumentService
from docserve.api.jobs.callbacks import CallbackSender
from docserve.api.jobs.page_images import PageImageStore
from docserve.api.jobs.protocols import JobQueue, JobStore
from docserve.api.jobs.records import Job
from docserve.api.jobs.uploads import UploadStore, is_upload
from docserve.api.metrics import GatewayMetrics
from docserve.api.settings import Settings
from docserve.contract.errors import (
    AttemptsExhaustedError,
    DocserveError,
    NotFoundError,
    StepDownError,
    TritonUnavailableError,
)
from docserve.contract.page_result import DocumentResult, PageEntry
from docserve.inference.retry_policy import RetryPolicy
from docserve.inference.trace_context import continued, tracer
from docserve.inference.triton_client import retried_by_caller

IDLE_POLL_S = 1.0
UPLOAD_SWEEP_S = 60.0


class JobWorkers:
    """A pool of ``worker_concurrency`` job loops sharing one queue and one document service."""

    def __init__(
        self,
        settings: Settings,
        queue: JobQueue,
        store: JobStore,  # read by the upload sweep: which uploads a job still needs
        uploads: UploadStore,
        page_images: PageImageStore,
        documents: DocumentService,
        callbacks: CallbackSender,
        metrics: GatewayMetrics,
    ):
        self.settings = settings
        self.queue = queue
        self.store = store
        self.uploads = uploads
        self.page_images = page_images
        self.documents = documents
        self.callbacks = callbacks
        self.metrics = metrics
        self.retry = RetryPolicy(attempts=settings.job_max_attempts, backoff_s=settings.job_retry_base_s)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._in_flight: dict[str, Job] = {}  # request id -> the job a slot is running

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(slot), name=f"job-worker-{slot}")
            for slot in range(self.settings.worker_concurrency)
        ]
        self._tasks.append(asyncio.create_task(self.callbacks.redeliver_pending(), name="callbacks"))
        self._tasks.append(asyncio.create_task(self._sweep_uploads(), name="upload-sweep"))
        logger.info("{} job workers started ({})", self.settings.worker_concurrency, self.worker_id)

    async def stop(self) -> None:
        """Stop taking jobs; the jobs in flight are abandoned and released: queued again, they
        restart at once on the next start (or at another worker), not once their lease runs out.
        Released or not (the store unreachable), nothing is lost: a lease runs out."""
        self._stopping.set()
        abandoned = list(self._in_flight.values())
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for job in abandoned:
            log = logger.bind(request_id=job.request_id)
            try:
                if await self.queue.release(job, self.worker_id):
                    log.info("job {} released: queued again", job.request_id)
            except Exception:
                log.exception("job {}: not released; retaken when its lease runs out", job.request_id)

    async def _loop(self, slot: int) -> None:
        while not self._stopping.is_set():
            job = await self.queue.claim(self.worker_id, self.settings.job_lease_s, wait_s=IDLE_POLL_S)
            if job is not None:
                self._in_flight[job.request_id] = job
                try:
                    await self.run_job(job)
                finally:
                    self._in_flight.pop(job.request_id, None)

    async def run_job(self, job: Job) -> None:
        """One attempt at ``job``, as a span of the trace its submission started."""
        attributes = {"docserve.request_id": job.request_id, "docserve.pipeline": job.pipeline,
                      "docserve.attempt": job.attempts}
        with continued(job.trace_parent), tracer().start_as_current_span("job", attributes=attributes):
            if job.attempts == 1 and job.started_at is not None:
                _queue_wait_span(job)
            await self._run_job(job)

    async def _run_job(self, job: Job) -> None:
        log = logger.bind(request_id=job.request_id)
        if job.attempts > self.retry.attempts:
            await self._fail(job, AttemptsExhaustedError.code,
                             f"gave up after {job.attempts - 1} attempts; last: {job.error_message}")
            return
        log.info("job {} attempt {} ({} on {})", job.request_id, job.attempts, job.pipeline, job.location)
        if job.attempts == 1 and job.started_at is not None:
            self.metrics.job_queue_wait_seconds.labels(job.pipeline).observe(job.started_at - job.created_at)
        heartbeat = asyncio.create_task(self._keep_lease(job))
        try:
            result = await self._analyze(job)
        except DocserveError as error:
            await self._on_error(job, error)
        except Exception as error:  # a bug: keep the job, retry it, and say what happened
            log.exception("job {} failed unexpectedly", job.request_id)
            await self._on_error(job, DocserveError(f"{type(error).__name__}: {error}"))
        else:
            with tracer().start_as_current_span("store.write"):
                stored = await self.queue.succeed(job, self.worker_id, result.model_dump(mode="json"))
            self._after_finish(job, stored, "succeeded")
        finally:
            heartbeat.cancel()

    async def _analyze(self, job: Job) -> DocumentResult:
        with _missing_pipeline_is_transient(job.pipeline):
            pipeline = await self.documents.pipeline(job.pipeline)
        with tracer().start_as_current_span("document.fetch", attributes={"docserve.location": job.location}):
            if is_upload(job.location):
                document = await asyncio.to_thread(self.uploads.read, job)
            else:
                document = await self.documents.fetch(job.location)
        with tracer().start_as_current_span("document.analyze"), retried_by_caller(), \
                _missing_pipeline_is_transient(job.pipeline):
            return await self.documents.analyze(
                pipeline, document, Budget.JOB, pages=job.options.get("pages"), request_id=job.request_id,
                observer=_JobProgress(self, job),
            )

    async def _on_error(self, job: Job, error: DocserveError) -> None:
        if error.transient and not self.retry.exhausted(job.attempts):
            delay = self.retry.delay_s(job.attempts)
            if isinstance(error, StepDownError) and error.retry_after_s:
                delay = max(delay, error.retry_after_s)  # not before the step can be repaired
            logger.bind(request_id=job.request_id).warning(
                "job {} attempt {} failed ({}: {}); retry in {:.1f}s",
                job.request_id, job.attempts, error.code, error.message, delay,
            )
            await self.queue.retry_later(job, self.worker_id, error.code, error.message, delay)
            self.metrics.job_outcomes.labels(job.pipeline, "retried", error.code).inc()
            return
        await self._fail(job, error.code, error.message)

    async def _fail(self, job: Job, code: str, message: str) -> None:
        with tracer().start_as_current_span("store.write", attributes={"docserve.error_code": code}):
            stored = await self.queue.fail(job, self.worker_id, code, message)
        self._after_finish(job, stored, "failed", code, f"{code}: {message}")

    def _after_finish(self, job: Job, stored: bool, status: str, code: str = "", detail: str = "") -> None:
        log = logger.bind(request_id=job.request_id)
        if not stored:  # another worker owns the job now: its outcome is the one that counts
            log.warning("job {}: lease lost before the outcome was stored; outcome dropped", job.request_id)
            return
        log.info("job {} {} {}", job.request_id, status, detail)
        self.uploads.delete(job.owner, job.request_id, job.location)  # an upload is done with: outcome stored
        self.metrics.job_outcomes.labels(job.pipeline, status, code).inc()
        self.metrics.job_seconds.labels(job.pipeline, status).observe(time.time() - job.created_at)
        if job.callback_url:
            self.callbacks.schedule(job.request_id, job.owner)

    async def _sweep_uploads(self) -> None:
        """Uploads no job needs any more, and those kept past their retention, go; so do the
        page images of jobs that are gone or kept past theirs."""
        while True:
            for sweep in (self.uploads.sweep, self.page_images.sweep):
                try:
                    await sweep(self.store)
                except Exception:  # a failed sweep is retried at the next one; jobs carry on
                    logger.exception("sweep failed")
            await asyncio.sleep(UPLOAD_SWEEP_S)

    async def _keep_lease(self, job: Job) -> None:
        interval = self.settings.job_lease_s / 3
        while True:
            await asyncio.sleep(interval)
            kept = await self.queue.extend_lease(job, self.worker_id, self.settings.job_lease_s)
            if not kept:
                logger.bind(request_id=job.request_id).warning("job {}: lease lost", job.request_id)
                return


class _JobProgress:
    """One attempt's progress, page by page: its page images kept, its page results stored
    under the attempt's lease (readable while the job runs)."""

    def __init__(self, workers: JobWorkers, job: Job):
        self.workers = workers
        self.job = job

    async def pages_split(self, pages_total: int) -> None:
        await asyncio.to_thread(self.workers.page_images.clear, self.job.owner, self.job.request_id)
        await self.workers.queue.start_pages(self.job, self.workers.worker_id, pages_total)

    async def page_done(self, entry: PageEntry, image: bytes) -> None:
        await asyncio.to_thread(self.workers.page_images.save, self.job.owner, self.job.request_id,
                                entry.page, image)
        await self.workers.queue.record_page(self.job, self.workers.worker_id, entry.model_dump(mode="json"))


@contextlib.contextmanager
def _missing_pipeline_is_transient(pipeline: str) -> Iterator[None]:
    """A job's pipeline was there when the job was accepted: missing now, it is being reloaded
    (an operator's unload and load, or its ensemble reloaded with one of its steps), which takes
    seconds. The job is retried with backoff, not failed for good with ``not_found``."""
    try:
        yield
    except NotFoundError as error:
        raise TritonUnavailableError(
            f"pipeline {pipeline!r} is not loaded in Triton now (it was when the job was accepted): "
            f"{error.message}") from error


def _queue_wait_span(job: Job) -> None:
    """The time the job waited in the queue, as a span after the fact."""
    assert job.started_at is not None
    span = tracer().start_span("job.queue_wait", start_time=int(job.created_at * 1e9))
    span.end(end_time=int(job.started_at * 1e9))
