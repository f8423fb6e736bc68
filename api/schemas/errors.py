"""The error envelope every non-2xx answer has, and the OpenAPI ``responses`` that document it.

Each route lists every status it can answer (its own, the body limit's 413, validation's 422,
Triton's 502/503, the 500 of a bug) with this body, so the OpenAPI is the truth a client (or a
schemathesis run) can hold the gateway to.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class ErrorExample:
    """One documented answer of a status: what brings it, and the body it gets."""

    name: str
    summary: str
    code: str
    message: str


# What a schema-valid upload can still be refused for: JSON Schema describes a binary part, not
# its format, so these answers are named in the OpenAPI of every route taking a document.
UNSUPPORTED_DOCUMENT = ErrorExample(
    "not_a_document",
    "WebP, random bytes: any file that is not a PDF, PNG, JPEG or TIFF (read from its first bytes)",
    "unsupported_document",
    "unsupported document: expected a PDF, PNG, JPEG or TIFF file (first bytes b'RIFF...')",
)
PAGE_TOO_SMALL = ErrorExample(
    "page_too_small",
    "a page with a side under the pipeline's minimum (a 1 x 1 PNG), read from its header",
    "invalid_document",
    "the image is 1x1 pixels: too small for a page of this pipeline (minimum side 64)",
)
UNREADABLE_DOCUMENT = ErrorExample(
    "unreadable_document",
    "a document that cannot be read (a truncated image, a PDF without pages), or pages it lacks",
    "invalid_document",
    "the image is corrupt: Truncated File Read",
)
DOCUMENT_EXAMPLES = {415: [UNSUPPORTED_DOCUMENT], 422: [PAGE_TOO_SMALL, UNREADABLE_DOCUMENT]}



def error_responses(*statuses: int, examples: dict[int, list[ErrorExample]] | None = None,
                    **described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``statuses`` (plus 500), each an :class:`ErrorBody`;
    ``described`` overrides a description (``_404="no such job"``), ``examples`` name answers
    of a status that its description alone would leave a client to guess."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, 500}):
        response: dict[str, Any] = {"model": ErrorBody,
                                    "description": described.get(f"_{status}", DESCRIPTIONS[status])}
        if status in (429, 503):
            response["headers"] = _RETRY_AFTER
        if examples and status in examples:
            response["content"] = {"application/json": {"examples": {
                example.name: {
                    "summary": example.summary,
                    "value": {"error": {"code": example.code, "message": example.message}},
                } for example in examples[status]
            }}}
        responses[status] = response
    return responses
