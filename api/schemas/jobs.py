"""Bodies of the jobs API (``/api/v1/jobs``) and of result callbacks."""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict, Field

from docserve.api.jobs.store import Job, JobStatus
from docserve.export.processing.page_result import DocumentResult

# A request id is the last segment of the job's URL (/api/v1/jobs/{request_id}), so it must come
# back from a URL unchanged: unreserved characters only (nothing to percent-encode), and not
# only dots: "." and ".." are path steps that clients and proxies normalize away.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]*[A-Za-z0-9_:-][A-Za-z0-9._:-]*$"
REQUEST_ID_GRAMMAR = (
    "1 to 128 characters from A-Z a-z 0-9 . _ : - , not only dots (so '.' and '..', which "
    "URL normalization removes, are refused)"
)


class JobOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pages: list[int] | None = Field(
        default=None, min_length=1, max_length=1000,
        description="1-based page numbers to analyse (default: every page)",
    )


class JobSubmission(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "request_id": "invoice-2026-0001", "pipeline": "ocr",
            "location": "file:///srv/docserve/inbox/invoice-0001.pdf",
        }]},
    )

    request_id: str = Field(
        min_length=1, max_length=128, pattern=REQUEST_ID_PATTERN,
        description="Your id for this job; sending it again with the same body returns the same job. "
                    + REQUEST_ID_GRAMMAR,
    )
    pipeline: str = Field(min_length=1, max_length=128, description="A pipeline of GET /api/v1/pipelines")
    location: str = Field(
        min_length=1, max_length=4096, description="file:///path, http(s)://host/path or s3://bucket/key"
    )
    options: JobOptions = Field(default_factory=JobOptions)
    callback_url: str | None = Field(
        default=None, max_length=4096, description="POSTed the final job (with retries) when it ends"
    )


class JobErrorView(BaseModel):
    code: str
    message: str


def _timestamp(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=timezone.utc) if value is not None else None


class JobView(BaseModel):
    request_id: str
    pipeline: str
    location: str
    status: JobStatus
    attempts: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: DocumentResult | None = None
    error: JobErrorView | None = None

    @classmethod
    def of(cls, job: Job) -> JobView:
        """A job as clients see it; an error shows only once the job has failed for good."""
        error = None
        if job.status == JobStatus.FAILED and job.error_code:
            error = JobErrorView(code=job.error_code, message=job.error_message or "")
        return cls(
            request_id=job.request_id, pipeline=job.pipeline, location=job.location,
            status=job.status, attempts=job.attempts, created_at=_timestamp(job.created_at),
            started_at=_timestamp(job.started_at), finished_at=_timestamp(job.finished_at),
            result=job.result, error=error,
        )


class JobList(BaseModel):
    jobs: list[JobView]
    counts: dict[str, int] = Field(description="Jobs per status in the whole store")
