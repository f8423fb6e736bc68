"""``/api/v1/jobs``: submit a document location for analysis, then come back for the result."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from docserve.api.dependencies import CatalogDep, FetcherDep, StoreDep, WorkersDep
from docserve.api.documents.locations import parse_location
from docserve.api.errors import DocumentError
from docserve.api.jobs.store import JobRequest, JobStatus
from docserve.api.schemas.errors import error_responses
from docserve.api.schemas.jobs import JobList, JobSubmission, JobView

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

_LOCATION = {"Location": {"description": "The job's URL: /api/v1/jobs/{request_id}",
                          "schema": {"type": "string"}}}
_SUBMIT_RESPONSES = {
    202: {"description": "queued", "headers": _LOCATION},
    200: {"model": JobView, "description": "the same request_id and body again: the same job",
          "headers": _LOCATION},
    **error_responses(400, 404, 409, 413, 422, 429, 503, _400="a body that cannot be parsed",
                      _404="unknown pipeline",
                      _503="Triton unreachable and the pipeline never seen"),
}


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=JobView, responses=_SUBMIT_RESPONSES)
async def submit_job(
    body: JobSubmission, response: Response, store: StoreDep, catalog: CatalogDep,
    fetcher: FetcherDep, workers: WorkersDep,
) -> JobView:
    """Queue the analysis of the document at ``location``; idempotent on ``request_id``."""
    await catalog.get(body.pipeline)
    fetcher.parse(body.location)
    if body.callback_url is not None:
        _check_callback_url(body.callback_url, fetcher.settings.allow_private_hosts)
    request = JobRequest(
        request_id=body.request_id, pipeline=body.pipeline, location=body.location,
        options=body.options.model_dump(exclude_none=True), callback_url=body.callback_url,
    )
    job, created = await asyncio.to_thread(store.submit, request)
    if created and workers is not None:
        workers.notify()
    response.status_code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
    response.headers["Location"] = f"{router.prefix}/{job.request_id}"
    return JobView.of(job)


def _check_callback_url(url: str, allow_private_hosts: bool) -> None:
    location = parse_location(url, file_roots=[], allow_private_hosts=allow_private_hosts)
    if location.scheme not in ("http", "https"):
        raise DocumentError(f"callback_url must be http(s), got {url!r}")


@router.get("/{request_id}", response_model=JobView, responses=error_responses(404, _404="no such job"))
async def get_job(request_id: str, store: StoreDep) -> JobView:
    """Status, attempts, timings and, once finished, the result or the error."""
    return JobView.of(await asyncio.to_thread(store.get, request_id))


@router.get("", response_model=JobList, responses=error_responses(422))
async def list_jobs(
    store: StoreDep,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JobList:
    """Most recent jobs first, for operators."""
    jobs = await asyncio.to_thread(store.list, status_filter, limit)
    counts = await asyncio.to_thread(store.counts)
    return JobList(jobs=[JobView.of(job) for job in jobs], counts=counts)


@router.delete("/{request_id}", response_model=JobView,
                responses=error_responses(404, 409, _404="no such job", _409="the job is not queued"))
async def cancel_job(request_id: str, store: StoreDep) -> JobView:
    """Cancel a job that is still queued."""
    return JobView.of(await asyncio.to_thread(store.cancel, request_id))
