"""Bodies of the jobs API (``/api/v1/jobs``) and of result callbacks."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, ClassVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from docserve.api.jobs.store import Job, JobStatus
from docserve.api.request_bodies import body_validation_error
from docserve.api.tracing import trace_id_of
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


class _JobFields(BaseModel):
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
        default=None, max_length=4096, description="POSTed the final job (with retries) when it ends"
    )


class JobSubmission(_JobFields):
    """A job on a document the workers fetch (JSON body)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "request_id": "invoice-2026-0001", "pipeline": "ocr",
            "location": "file:///srv/docserve/inbox/invoice-0001.pdf",
        }]},
    )

    location: str = Field(
        min_length=1, max_length=4096, description="file:///path, http(s)://host/path or s3://bucket/key"
    )


class JobUpload(_JobFields):
    """A job on an uploaded document (multipart body: these fields + the ``document`` file)."""

    FIELDS: ClassVar[tuple[str, ...]] = ("request_id", "pipeline", "options", "callback_url")

    @classmethod
    def from_form(cls, fields: dict[str, str]) -> JobUpload:
        """The form's text fields, ``options`` being a JSON object; 422 like a JSON body's errors."""
        values: dict[str, object] = dict(fields)
        if "options" in fields:
            try:
                values["options"] = json.loads(fields["options"])
            except ValueError as error:
                raise RequestValidationError([{
                    "loc": ("body", "options"), "msg": f"options must be a JSON object: {error}",
                    "type": "json_invalid",
                }]) from error
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise body_validation_error(error) from error

    @classmethod
    def form_schema(cls) -> dict[str, Any]:
        """The multipart body as OpenAPI describes it: text fields plus the binary document."""
        fields = JobSubmission.model_json_schema()["properties"]
        return {
            "type": "object",
            "required": ["request_id", "pipeline", "document"],
            "properties": {
                "document": {"type": "string", "format": "binary", "description": "PDF, PNG, JPEG or TIFF"},
                "request_id": fields["request_id"],
                "pipeline": fields["pipeline"],
                "options": {"type": "string", "description": 'JSON object, e.g. {"pages": [1, 2]}'},
                "callback_url": {"type": "string", "maxLength": 4096,
                                 "description": fields["callback_url"]["description"]},
            },
        }


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
    trace_id: str | None = Field(default=None, description="OpenTelemetry trace of the job (X-Trace-ID)")

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
            result=job.result, error=error, trace_id=trace_id_of(job.trace_parent),
        )


class JobList(BaseModel):
    jobs: list[JobView]
    counts: dict[str, int] = Field(description="Jobs per status in the whole store")
