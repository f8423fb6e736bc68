"""The error envelope every non-2xx answer has, and the OpenAPI ``responses`` that document it.

Each route lists every status it can answer (its own, the body limit's 413, validation's 422,
Triton's 502/503, the 500 of a bug) with this body, so the OpenAPI is the truth a client (or a
schemathesis run) can hold the gateway to.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable: not_found, validation_error, queue_full, ...")
    message: str = Field(description="What is wrong, for people")
    details: Any = Field(default=None, description="validation_error: each problem with its location")


class ErrorBody(BaseModel):
    error: ErrorDetail


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                                "schema": {"type": "integer"}}}

DESCRIPTIONS = {
    400: "a body that cannot be parsed (not UTF-8, broken multipart)",
    401: "API keys are on (DOCSERVE_API_KEYS_FILE) and the request has no valid key",
    403: "the request's API key was revoked",
    404: "unknown pipeline, job or route",
    409: "request_id already used with another body; or the job is not cancellable",
    413: "body, document, page count or pixels over the limits",
    415: "unsupported media type or document format",
    422: "validation_error (malformed or missing fields), or an unusable document / location",
    429: "queue full, or the API key over its rate: retry after Retry-After seconds",
    500: "internal error (a bug; logged with the request id)",
    502: "the document's server or a pipeline step failed",
    503: "Triton or a pipeline step is unavailable: retry after Retry-After seconds",
}


def error_responses(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``statuses`` (plus 500), each an :class:`ErrorBody`;
    ``described`` overrides a description (``_404="no such job"``)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, 500}):
        response: dict[str, Any] = {"model": ErrorBody,
                                    "description": described.get(f"_{status}", DESCRIPTIONS[status])}
        if status in (429, 503):
            response["headers"] = _RETRY_AFTER
        responses[status] = response
    return responses
