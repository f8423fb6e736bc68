"""Jobs, whatever the transport: submit (a location, or an uploaded document), read, wait, list, cancel.

The jobs router parses HTTP into these calls and turns the jobs they return into views; the
service checks a submission before anything is stored (unknown pipeline 404, refused location
or callback URL 422, an upload's type, pages and pixels), stores it through the ``JobStore`` and
offers it to the workers through the ``JobQueue``. ``owner`` is the API key's name, None when
the API is open (the anonymous owner): request ids are scoped per owner, so another owner's job
of the same id is simply not found (404, never 403 or 409: its existence does not leak).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, BinaryIO

from docserve.api.documents.locations import parse_location
from docserve.api.documents.service import Budget, DocumentService
from docserve.api.jobs.page_images import PageImageStore
from docserve.api.jobs.protocols import JobQueue, JobStore
from docserve.api.jobs.records import Job, JobRequest
from docserve.api.jobs.uploads import UploadStore
from docserve.contract.errors import DocumentError, NotFoundError
from docserve.contract.jobs import JobFields, JobStatus, JobSubmission
from docserve.inference.pipelines import Pipeline
from docserve.inference.trace_context import current_traceparent

# How often a long poll looks at the store: workers in other processes change jobs too, so an
# in-process notification would not see every change.
LONG_POLL_INTERVAL_S = 0.05


class JobService:
    """The jobs of one gateway process, over whichever job store and queue it was given."""

    def __init__(self, store: JobStore, queue: JobQueue, uploads: UploadStore, page_images: PageImageStore,
                 documents: DocumentService, allow_private_hosts: bool):
        self.store = store
        self.queue = queue
        self.uploads = uploads
        self.page_images = page_images
        self.documents = documents
        self.allow_private_hosts = allow_private_hosts  # callback URLs obey the locations' rule

    async def submit(self, submission: JobSubmission, owner: str | None) -> tuple[Job, bool]:
        """Queue the analysis of the document at ``submission.location``: ``(job, created)``,
        idempotent on the request id (the workers fetch the document, the gateway never holds it)."""
        await self._check(submission, submission.location)
        return await self._queue(_job_request(submission, submission.location, owner))

    async def submit_upload(self, fields: JobFields, document: BinaryIO,
                            owner: str | None) -> tuple[Job, bool]:
        """Check the fields, store the uploaded document durably, then queue the job (see
        ``jobs.uploads``); the document is checked against a job's budgets before it is queued."""
        pipeline = await self._check(fields)
        staged = await asyncio.to_thread(self.uploads.receive, document)
        try:
            data = await asyncio.to_thread(staged.read)
            await self.documents.check(data, pipeline, Budget.JOB, fields.options.pages)
        except BaseException:
            self.uploads.discard(staged)
            raise
        request = _job_request(fields, staged.location, owner)
        linked = await asyncio.to_thread(self.uploads.commit, staged, owner, fields.request_id)
        try:
            job, created = await self._queue(request)
        except BaseException:
            if linked:  # refused (409, 429): the file we just linked belongs to no job
                self.uploads.delete(owner, fields.request_id, staged.location)
            raise
        if linked and not created and job.status.final:  # a repeat of a finished job: nothing to keep
            self.uploads.delete(owner, fields.request_id, staged.location)
        return job, created

    async def get(self, request_id: str, owner: str | None) -> Job:
        """``owner``'s job ``request_id`` (``NotFoundError`` when it has none: another owner's
        job of that id is none of its business)."""
        return await self.store.get(request_id, owner)

    async def wait(self, request_id: str, owner: str | None, wait_s: float) -> Job:
        """Long polling: the job as soon as its status or its progress (pages split, a page
        done) changes, or as it is after ``wait_s``."""
        job = await self.get(request_id, owner)
        deadline = time.monotonic() + wait_s
        while not job.status.final and (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(LONG_POLL_INTERVAL_S, left))
            current = await self.store.get(request_id, owner)
            if _progress(current) != _progress(job):
                return current
        return job

    async def partial_pages(self, job: Job) -> list[dict[str, Any]]:
        """The pages of ``job`` finished so far (``[]`` once it succeeded: see its result)."""
        if job.status == JobStatus.SUCCEEDED:
            return []
        return await self.store.partial_pages(job.request_id, job.owner)

    async def page_image(self, request_id: str, owner: str | None, page: int) -> bytes:
        """The PNG of page ``page`` as the job's pipeline analysed it (``NotFoundError`` naming
        the page when the job has none such, or not yet: a page's image is kept once its result is)."""
        job = await self.get(request_id, owner)
        try:
            return await asyncio.to_thread(self.page_images.read, job.owner, job.request_id, page)
        except NotFoundError as missing:
            if job.status.final or job.pages_total is None:
                raise
            raise NotFoundError(f"{missing.message}; the job is {job.status.value}, "
                                f"{job.pages_done} of {job.pages_total} pages done") from None

    async def list(self, status: JobStatus | None, limit: int,
                   owner: str | None) -> tuple[list[Job], dict[str, int]]:
        """The most recent jobs of ``owner`` and its counts per status."""
        return await self.store.list(status, limit, owner), await self.store.counts(owner)

    async def cancel(self, request_id: str, owner: str | None) -> Job:
        """Cancel a job still queued; its uploaded document, if any, goes with it."""
        job = await self.store.cancel(request_id, owner)
        self.uploads.delete(owner, job.request_id, job.location)
        await asyncio.to_thread(self.page_images.delete, owner, job.request_id)
        return job

    async def _check(self, fields: JobFields, location: str | None = None) -> Pipeline:
        """Unknown pipeline (404), refused location or callback URL (422): before anything is stored."""
        pipeline = await self.documents.pipeline(fields.pipeline)
        if location is not None:
            self.documents.check_location(location)
        if fields.callback_url is not None:
            self._check_callback_url(fields.callback_url)
        return pipeline

    def _check_callback_url(self, url: str) -> None:
        location = parse_location(url, file_roots=[], allow_private_hosts=self.allow_private_hosts)
        if location.scheme not in ("http", "https"):
            raise DocumentError(f"callback_url must be http(s), got {url!r}")

    async def _queue(self, request: JobRequest) -> tuple[Job, bool]:
        """Store, then offer to the workers. A repeat of a job still queued is offered again:
        a queue whose broker refused the first offer (``QueueUnavailableError``) gets it now, and
        a duplicate delivery is harmless (one attempt holds the lease, a final job is skipped)."""
        job, created = await self.store.submit(request)
        if created or job.status == JobStatus.QUEUED:
            await self.queue.enqueue(job)
        return job, created


def _progress(job: Job) -> tuple[JobStatus, int | None, int]:
    """What a long poll watches: a change of any of these answers it."""
    return job.status, job.pages_total, job.pages_done


def _job_request(fields: JobFields, location: str, owner: str | None) -> JobRequest:
    return JobRequest(
        request_id=fields.request_id, pipeline=fields.pipeline, location=location,
        options=fields.options.model_dump(exclude_none=True), callback_url=fields.callback_url,
        owner=owner, trace_parent=current_traceparent(),
    )
