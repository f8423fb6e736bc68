"""One typed error hierarchy for the gateway, mapped to HTTP by a single handler.

Routers and services raise these; nothing else decides status codes. Every error body is
``{"error": {"code": ..., "message": ..., "details": ...}}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger


class DocserveError(Exception):
    """Base of every error the gateway reports to a client.

    ``transient`` tells a job worker whether another attempt may succeed (Triton restarting, a
    fetch timing out) or the job should fail at once (a corrupt document, a refused location).
    """

    status_code = 500
    code = "internal_error"
    transient = False
    retry_after_s: int | None = None  # sent as Retry-After: when another try is worth it
    headers: dict[str, str] | None = None  # sent with the answer (e.g. WWW-Authenticate)

    def __init__(self, message: str, details: Any = None):
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class InvalidInputError(DocserveError):
    """The request is well-formed JSON but the model refuses its content."""

    status_code = 400
    code = "invalid_input"


class MalformedBodyError(DocserveError):
    """The request body cannot be parsed at all (a truncated or garbled multipart body)."""

    status_code = 400
    code = "malformed_body"


class NotFoundError(DocserveError):
    status_code = 404
    code = "not_found"


class PayloadTooLargeError(DocserveError):
    status_code = 413
    code = "payload_too_large"


class ConflictError(DocserveError):
    """The request contradicts what is stored (a used request id with another body)."""

    status_code = 409
    code = "conflict"


class QueueFullError(DocserveError):
    """The job queue is at its bound; the client should come back after ``Retry-After``."""

    status_code = 429
    code = "queue_full"
    retry_after_s = 5


class TritonUnavailableError(DocserveError):
    """Triton cannot be reached or is not ready; the client may retry later."""

    status_code = 503
    code = "triton_unavailable"
    transient = True
    retry_after_s = 5


class DocumentError(DocserveError):
    """A document location or its content cannot be used."""

    status_code = 422
    code = "invalid_document"


class LocationRefusedError(DocumentError):
    """The location is outside what docserve may read: private network, outside file roots."""

    code = "location_refused"


class DocumentNotFoundError(DocumentError):
    code = "document_not_found"


class DocumentTooLargeError(DocumentError):
    status_code = 413
    code = "document_too_large"


class UnsupportedDocumentError(DocumentError):
    status_code = 415
    code = "unsupported_document"


class UnsupportedMediaTypeError(DocserveError):
    """The request body is neither of the content types an endpoint accepts."""

    status_code = 415
    code = "unsupported_media_type"


class FetchFailedError(DocumentError):
    """The document's server timed out or failed (5xx, connection reset): worth another try."""

    status_code = 502
    code = "fetch_failed"
    transient = True


class InferenceError(DocserveError):
    """Triton answered with an error that is not the client's fault."""

    status_code = 502
    code = "inference_failed"


async def _docserve_error(request: Request, error: DocserveError) -> JSONResponse:
    log = logger.warning if error.status_code < 500 else logger.error
    log("{} {} -> {} {}: {}", request.method, request.url.path, error.status_code, error.code, error.message)
    headers = dict(error.headers or {})
    if error.retry_after_s is not None:
        headers["Retry-After"] = str(error.retry_after_s)
    return JSONResponse(error.body(), status_code=error.status_code, headers=headers or None)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    details = [
        {"location": list(item["loc"]), "message": item["msg"], "type": item["type"]}
        for item in error.errors()
    ]
    logger.warning("{} {} -> 422 validation: {}", request.method, request.url.path, details)
    body = {"error": {"code": "validation_error", "message": "request body is invalid", "details": details}}
    return JSONResponse(body, status_code=422)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    """A bug, not a client error: logged with its traceback, answered in the usual JSON shape."""
    logger.opt(exception=error).error("{} {} -> 500: {}", request.method, request.url.path, error)
    body = {"error": {"code": "internal_error", "message": "internal error; see the gateway log"}}
    return JSONResponse(body, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_exception_handler(DocserveError, _docserve_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
