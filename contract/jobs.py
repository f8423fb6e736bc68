"""What the jobs API says about a job: the submission body, the job as clients see it, statuses.

The gateway answers with these and the Python clients parse them, so both read one definition.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from docserve.contract.page_result import DocumentResult, PageEntry


class JobStatus(str, Enum):
    QUEUED = "queued"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


# A request id is the last segment of the job's URL (/api/v1/jobs/{request_id}), so it must come
# back from a URL unchanged: unreserved characters only (nothing to percent-encode), and not
# only dots: "." and ".." are path steps that clients and proxies normalize away.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]*[A-Za-z0-9_:-][A-Za-z0-9._:-]*$"
# Document locations and callback URLs longer than this are refused (both routes, both bodies).
MAX_URL_LENGTH = 4096
# The longest long poll (GET /api/v1/jobs/{request_id}?wait=): the gateway refuses a longer wait,
# the clients poll in waits of at most this.
MAX_WAIT_S = 30.0
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


class JobFields(BaseModel):
    """What every job submission says, whether it names a location or uploads the document."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(
        min_length=1, max_length=128, pattern=REQUEST_ID_PATTERN,
        description="Your id for this job; sending it again with the same body returns the same job. "
                    + REQUEST_ID_GRAMMAR,
    )
    pipeline: str = Field(min_length=1, max_length=128, description="A pipeline of GET /api/v1/pipelines")
    options: JobOptions = Field(default_factory=JobOptions)
    callback_url: str | None = Field(
        default=None, max_length=MAX_URL_LENGTH,
        description="POSTed the final job (with retries) when it ends",
    )


class JobSubmission(JobFields):
    """A job on a document the workers fetch (JSON body)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "request_id": "invoice-2026-0001", "pipeline": "ocr",
            "location": "https://documents.example.com/invoices/invoice-0001.pdf",
        }]},
    )

    location: str = Field(
        min_length=1, max_length=MAX_URL_LENGTH,
        description="file:///path, http(s)://host/path or s3://bucket/key",
    )


class JobErrorView(BaseModel):
    code: str
    message: str


class JobProgress(BaseModel):
    pages_total: int | None = Field(
        default=None, description="Pages this job analyses (its selected pages); null until a "
                                  "worker has split the document")
    pages_done: int = Field(default=0, description="How many of them have their result")


# What GET /api/v1/jobs/{request_id}?include= may add to the job.
JobInclude = Literal["partial"]


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
    trace_id: str | None = Field(default=None, description="OpenTelemetry trace of the job (X-Trace-ID)")
    progress: JobProgress = Field(default_factory=JobProgress,
                                  description="Page by page: updated as each page's result is stored")
    partial: list[PageEntry] | None = Field(
        default=None,
        description="With ?include=partial, until the job succeeded: the pages finished so far, "
                    "in page order (what a failed job did finish stays here). Null otherwise",
    )


class JobList(BaseModel):
    jobs: list[JobView]
    counts: dict[str, int] = Field(description="Jobs per status in the whole store")
