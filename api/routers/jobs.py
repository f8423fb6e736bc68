"""``/api/v1/jobs``: submit a document location for analysis, then come back for the result."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from docserve.api.analysis import page_limits
from docserve.api.api_keys import ApiClient
from docserve.api.dependencies import (
    CatalogDep,
    ClientDep,
    FetcherDep,
    SettingsDep,
    StoreDep,
    UploadsDep,
    WorkersDep,
)
from docserve.api.documents.fetch import DocumentFetcher
from docserve.api.documents.locations import parse_location
from docserve.api.jobs.store import Job, JobRequest, JobStore
from docserve.api.jobs.uploads import UploadStore
from docserve.api.request_bodies import parse_body, read_multipart
from docserve.api.schemas.errors import error_responses
from docserve.api.schemas.jobs import JobUpload, job_view
from docserve.api.settings import Settings
from docserve.contract.errors import DocumentError, NotFoundError, UnsupportedMediaTypeError
from docserve.contract.jobs import MAX_WAIT_S, JobList, JobStatus, JobSubmission, JobView
from docserve.inference.pipelines import Pipeline, PipelineCatalog
from docserve.inference.trace_context import current_traceparent
from docserve.processing.document_pages import check_document

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

# How often a long poll looks at the store: workers in other processes change jobs too, so an
# in-process notification would not see every change.
LONG_POLL_INTERVAL_S = 0.05

_LOCATION = {"Location": {"description": "The job's URL: /api/v1/jobs/{request_id}",
                          "schema": {"type": "string"}}}
_SUBMIT_RESPONSES = {
    202: {"description": "queued", "headers": _LOCATION},
    200: {"model": JobView, "description": "the same request_id and body again: the same job",
          "headers": _LOCATION},
    **error_responses(400, 404, 409, 413, 415, 422, 429, 503,
                      _400="a body that cannot be parsed (a truncated multipart body: malformed_body)",
                      _404="unknown pipeline",
                      _413="body, uploaded document, its pages or its page pixels over the limits",
                      _415="body neither JSON nor multipart; or the upload is not a PDF, PNG, JPEG or TIFF",
                      _422="malformed or refused location / callback_url; an empty or unreadable upload",
                      _503="Triton unreachable and the pipeline never seen"),
}

_SUBMISSION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JobSubmission"}},
            "multipart/form-data": {"schema": JobUpload.form_schema()},
        },
    }
}


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=JobView, responses=_SUBMIT_RESPONSES,
             openapi_extra=_SUBMISSION_BODY)
async def submit_job(
    request: Request, response: Response, store: StoreDep, uploads: UploadsDep, catalog: CatalogDep,
    fetcher: FetcherDep, workers: WorkersDep, settings: SettingsDep, client: ClientDep,
) -> JobView:
    """Queue the analysis of a document, idempotent on ``request_id``: name its ``location``
    (JSON), or upload it (multipart: file field ``document`` plus the same fields as form fields,
    ``options`` as a JSON string). An upload is stored under the data dir before the answer and
    deleted once the job's result is stored."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        job, created = await _submit_upload(request, store, uploads, catalog, fetcher, settings, client)
    elif content_type.startswith("application/json"):
        body = parse_body(JobSubmission, await request.body())
        await _check_submission(body, catalog, fetcher, body.location)
        job, created = await asyncio.to_thread(store.submit, _job_request(body, body.location, client))
    else:
        raise UnsupportedMediaTypeError(
            "send the job as JSON (with a location) or as multipart/form-data (with a 'document' file)"
        )
    if created and workers is not None:
        workers.notify()
    response.status_code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
    response.headers["Location"] = f"{router.prefix}/{job.request_id}"
    return job_view(job)


async def _check_submission(body: JobSubmission | JobUpload, catalog: PipelineCatalog,
                            fetcher: DocumentFetcher, location: str | None = None) -> Pipeline:
    """Unknown pipeline (404), refused location or callback URL (422): before anything is stored."""
    pipeline = await catalog.get(body.pipeline)
    if location is not None:
        fetcher.parse(location)
    if body.callback_url is not None:
        _check_callback_url(body.callback_url, fetcher.settings.allow_private_hosts)
    return pipeline


def _job_request(body: JobSubmission | JobUpload, location: str, client: ApiClient | None) -> JobRequest:
    return JobRequest(
        request_id=body.request_id, pipeline=body.pipeline, location=location,
        options=body.options.model_dump(exclude_none=True), callback_url=body.callback_url,
        owner=client.name if client else None, trace_parent=current_traceparent(),
    )


async def _submit_upload(request: Request, store: JobStore, uploads: UploadStore,
                         catalog: PipelineCatalog, fetcher: DocumentFetcher,
                         settings: Settings, client: ApiClient | None) -> tuple[Job, bool]:
    """Check the fields, store the file durably, then queue the job (see ``jobs.uploads``)."""
    fields, document = await read_multipart(request, settings.max_document_bytes, JobUpload.FIELDS)
    body = JobUpload.from_form(fields)
    pipeline = await _check_submission(body, catalog, fetcher)
    staged = await asyncio.to_thread(uploads.receive, document.file)
    limits = page_limits(settings, deskew=pipeline.deskews)  # a job's budgets, checked now
    try:
        await asyncio.to_thread(check_document, staged.read(), limits, body.options.pages)
    except BaseException:
        uploads.discard(staged)
        raise
    request_body = _job_request(body, staged.location, client)
    linked = await asyncio.to_thread(uploads.commit, staged, body.request_id)
    try:
        job, created = await asyncio.to_thread(store.submit, request_body)
    except BaseException:
        if linked:  # refused (409, 429): the file we just linked belongs to no job
            uploads.delete(body.request_id, staged.location)
        raise
    if linked and not created and job.status.final:  # a repeat of a finished job: nothing to keep
        uploads.delete(body.request_id, staged.location)
    return job, created


async def _own_job(store: JobStore, request_id: str, client: ApiClient | None) -> Job:
    """The job, if the client may see it: with API keys, another key's job is 404 like a missing one."""
    job = await asyncio.to_thread(store.get, request_id)
    if client is not None and job.owner != client.name:
        raise NotFoundError(f"no job with request_id {request_id!r}")
    return job


def _check_callback_url(url: str, allow_private_hosts: bool) -> None:
    location = parse_location(url, file_roots=[], allow_private_hosts=allow_private_hosts)
    if location.scheme not in ("http", "https"):
        raise DocumentError(f"callback_url must be http(s), got {url!r}")


@router.get("/{request_id}", response_model=JobView,
            responses=error_responses(404, 422, _404="no such job", _422="wait outside 0..30"))
async def get_job(
    request_id: str, store: StoreDep, client: ClientDep,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S, description=(
        "Long polling: answer as soon as the job's status changes, or after this many seconds"
    ))] = 0,
) -> JobView:
    """Status, attempts, timings and, once finished, the result or the error."""
    job = await _own_job(store, request_id, client)
    deadline = time.monotonic() + wait
    while not job.status.final and (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(LONG_POLL_INTERVAL_S, left))
        current = await asyncio.to_thread(store.get, request_id)
        if current.status != job.status:
            return job_view(current)
    return job_view(job)


@router.get("", response_model=JobList, responses=error_responses(422))
async def list_jobs(
    store: StoreDep, client: ClientDep,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JobList:
    """Most recent jobs first, for operators (with API keys: the key's own jobs)."""
    owner = client.name if client else None
    jobs = await asyncio.to_thread(store.list, status_filter, limit, owner)
    counts = await asyncio.to_thread(store.counts, owner)
    return JobList(jobs=[job_view(job) for job in jobs], counts=counts)


@router.delete("/{request_id}", response_model=JobView,
                responses=error_responses(404, 409, _404="no such job", _409="the job is not queued"))
async def cancel_job(request_id: str, store: StoreDep, uploads: UploadsDep, client: ClientDep) -> JobView:
    """Cancel a job that is still queued (its uploaded document, if any, is deleted)."""
    await _own_job(store, request_id, client)
    job = await asyncio.to_thread(store.cancel, request_id)
    uploads.delete(job.request_id, job.location)
    return job_view(job)
