"""``/api/v1/jobs``: submit a document location for analysis, then come back for the result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from docserve.api import API_PREFIX
from docserve.api.dependencies import JobsDep, OwnerDep, SettingsDep
from docserve.api.request_bodies import parse_body, read_multipart
from docserve.api.schemas.errors import DOCUMENT_EXAMPLES, error_responses
from docserve.api.schemas.jobs import JobUpload, job_view
from docserve.contract.errors import ConflictError, UnsupportedMediaTypeError
from docserve.contract.field_rows import field_rows_csv
from docserve.contract.jobs import MAX_WAIT_S, JobInclude, JobList, JobStatus, JobSubmission, JobView
from docserve.contract.page_result import DocumentResult

router = APIRouter(prefix=f"{API_PREFIX}/jobs", tags=["jobs"])


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
                      _422="malformed or refused location / callback_url; an empty or unreadable upload, "
                           "a page too small for the pipeline; multipart fields the route does not take",
                      examples=DOCUMENT_EXAMPLES,
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
async def submit_job(request: Request, response: Response, jobs: JobsDep, settings: SettingsDep,
                     owner: OwnerDep) -> JobView:
    """Queue the analysis of a document, idempotent on ``request_id``: name its ``location``
    (JSON), or upload it (multipart: file field ``document`` plus the same fields as form fields,
    ``options`` as a JSON string). An upload is stored under the data dir before the answer and
    deleted once the job's result is stored."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        fields, document = await read_multipart(request, settings.max_document_bytes, JobUpload.FIELDS)
        job, created = await jobs.submit_upload(JobUpload.from_form(fields), document.file, owner)
    elif content_type.startswith("application/json"):
        job, created = await jobs.submit(parse_body(JobSubmission, await request.body()), owner)
    else:
        raise UnsupportedMediaTypeError(
            "send the job as JSON (with a location) or as multipart/form-data (with a 'document' file)"
        )
    response.status_code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
    response.headers["Location"] = request.app.url_path_for("get_job", request_id=job.request_id)
    return job_view(job)


@router.get("/{request_id}", response_model=JobView,
            responses=error_responses(404, 422, _404="no such job",
                                      _422="wait outside 0..30, or include not 'partial'"))
async def get_job(
    request_id: str, jobs: JobsDep, owner: OwnerDep,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S, description=(
        "Long polling: answer as soon as the job's status or progress (a page done) changes, "
        "or after this many seconds"
    ))] = 0,
    include: Annotated[JobInclude | None, Query(description=(
        "partial: add the pages finished so far (`partial`) while the job has no result"
    ))] = None,
) -> JobView:
    """Status, attempts, timings, progress page by page and, once finished, the result or the
    error."""
    job = await jobs.wait(request_id, owner, wait)
    partial = await jobs.partial_pages(job) if include == "partial" and job.result is None else None
    return job_view(job, partial)


@router.get(
    "/{request_id}/pages/{page}/image", response_class=Response,
    responses={200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                     "description": "The page as the pipeline analysed it (PDF pages rasterized, "
                                    "upright, 8-bit): the pixels every coordinate of its result "
                                    "refers to"},
               **error_responses(404, 422, _404="no such job, or the job has no image of that page "
                                               "(not analysed yet, not one of its pages, no longer kept)",
                                 _422="page not a positive integer")},
)
async def get_page_image(
    request_id: str, jobs: JobsDep, owner: OwnerDep,
    page: Annotated[int, Path(ge=1, le=1_000_000, description="1-based page number in the document")],
) -> Response:
    """The image of one analysed page, kept from when its result is stored for
    DOCSERVE_PAGE_IMAGE_RETENTION_S (deleted with the job)."""
    image = await jobs.page_image(request_id, owner, page)
    return Response(image, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/{request_id}/fields.csv", response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                     "description": "One row per form field (key -> value pair) of every page: "
                                    "page, key, value, kind, confidence"},
               **error_responses(404, 409, _404="no such job", _409="the job has no result (yet)")},
)
async def get_job_fields(request_id: str, jobs: JobsDep, owner: OwnerDep) -> Response:
    """The job's form fields as CSV, for a spreadsheet (empty but for its header when the
    pipeline pairs no fields)."""
    job = await jobs.get(request_id, owner)
    if job.result is None:
        raise ConflictError(f"job {request_id!r} is {job.status.value} and has no result to export")
    table = field_rows_csv(DocumentResult.model_validate(job.result))
    return Response(table, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{request_id}-fields.csv"'})


@router.get("", response_model=JobList, responses=error_responses(422))
async def list_jobs(
    jobs: JobsDep, owner: OwnerDep,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JobList:
    """Most recent jobs first, for operators (with API keys: the key's own jobs)."""
    listed, counts = await jobs.list(status_filter, limit, owner)
    return JobList(jobs=[job_view(job) for job in listed], counts=counts)


@router.delete("/{request_id}", response_model=JobView,
                responses=error_responses(404, 409, _404="no such job", _409="the job is not queued"))
async def cancel_job(request_id: str, jobs: JobsDep, owner: OwnerDep) -> JobView:
    """Cancel a job that is still queued (its uploaded document, if any, is deleted)."""
    return job_view(await jobs.cancel(request_id, owner))
