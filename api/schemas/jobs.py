"""Bodies of the jobs API (``/api/v1/jobs``) and of result callbacks."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from pydantic_core import from_json

from docserve.api.jobs.records import Job
from docserve.api.request_bodies import body_validation_error
from docserve.contract.jobs import (
    MAX_URL_LENGTH,
    JobErrorView,
    JobFields,
    JobProgress,
    JobStatus,
    JobSubmission,
    JobView,
)
from docserve.inference.trace_context import trace_id_of


class JobUpload(JobFields):
    """A job on an uploaded document (multipart body: these fields + the ``document`` file)."""

    FIELDS: ClassVar[tuple[str, ...]] = ("request_id", "pipeline", "options", "callback_url")

    @classmethod
    def from_form(cls, fields: dict[str, str]) -> JobUpload:
        """The form's text fields, ``options`` being a JSON object; 422 like a JSON body's errors.

        ``options`` is parsed by the parser that reads JSON bodies (pydantic's), not ``json.loads``:
        its nesting limit answers a 10,000-deep array as the JSON body's 422 instead of letting
        the recursion reach Python's limit (a 500)."""
        values: dict[str, object] = dict(fields)
        if "options" in fields:
            try:
                values["options"] = from_json(fields["options"])
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
            "additionalProperties": False,  # other fields: 422 invalid_document, however many
            "properties": {
                "document": {"type": "string", "format": "binary", "description": "PDF, PNG, JPEG or TIFF"},
                "request_id": fields["request_id"],
                "pipeline": fields["pipeline"],
                "options": {"type": "string", "description": 'JSON object, e.g. {"pages": [1, 2]}'},
                "callback_url": {"type": "string", "maxLength": MAX_URL_LENGTH,
                                 "description": fields["callback_url"]["description"]},
            },
        }



def _timestamp(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=timezone.utc) if value is not None else None


def job_view(job: Job, partial: list[dict[str, Any]] | None = None) -> JobView:
    """A job as clients see it; an error shows only once the job has failed for good.
    ``partial``: the pages finished so far, when the client asked for them."""
    error = None
    if job.status == JobStatus.FAILED and job.error_code:
        error = JobErrorView(code=job.error_code, message=job.error_message or "")
    return JobView(
        request_id=job.request_id, pipeline=job.pipeline, location=job.location,
        status=job.status, attempts=job.attempts, created_at=_timestamp(job.created_at),
        started_at=_timestamp(job.started_at), finished_at=_timestamp(job.finished_at),
        result=job.result, error=error, trace_id=trace_id_of(job.trace_parent),
        progress=JobProgress(pages_total=job.pages_total, pages_done=job.pages_done), partial=partial,
    )


