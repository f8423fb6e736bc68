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
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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

    def __init__(self, message: str, details: Any = None, retry_after_s: int | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if retry_after_s is not None:  # this situation's wait, instead of the class's default
            self.retry_after_s = retry_after_s

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
    """The job queue is at its bound; the client should come back after ``Retry-After``
    (the time the workers' recent pace needs to make room)."""

    status_code = 429
    code = "queue_full"


class UnauthorizedError(DocserveError):
    """API keys are on and the request has no valid one."""

    status_code = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012 - a constant, never mutated


class KeyRevokedError(DocserveError):
    """The request's API key was revoked (docserve keys revoke)."""

    status_code = 403
    code = "key_revoked"


class RateLimitedError(DocserveError):
    """The request's API key is over its requests per minute."""

    status_code = 429
    code = "rate_limited"


class TritonUnavailableError(DocserveError):
    """Triton cannot be reached or is not ready; the client may retry later."""

    status_code = 503
    code = "triton_unavailable"
    transient = True
    retry_after_s = 5  # Triton starting or restarting takes seconds


class StepDownError(TritonUnavailableError):
    """A step of a pipeline cannot run: its python backend stub process died. The gateway reloads
    that model (:mod:`docserve.api.step_repair`); until then the pipeline answers 503."""

    code = "step_unavailable"
    retry_after_s = 2  # reloading one model

    def __init__(self, message: str, model: str):
        super().__init__(message)
        self.model = model


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


# Starlette's own errors (no route, wrong method, unparsable multipart body) by status.
_HTTP_CODES = {
    400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    """Routing and body-parsing errors in the project's envelope, keeping headers such as ``Allow``."""
    code = _HTTP_CODES.get(error.status_code, "http_error")
    logger.warning("{} {} -> {} {}: {}", request.method, request.url.path, error.status_code, code,
                   error.detail)
    body = {"error": {"code": code, "message": str(error.detail)}}
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return JSONResponse(body, status_code=error.status_code, headers=headers or None)


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only its first match's)."""
    routes = request.app.router.routes
    return [
        method for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


INTERNAL_ERROR_BODY = {"error": {"code": "internal_error", "message": "internal error; see the gateway log"}}


class ErrorBoundaryMiddleware:
    """Answers any exception no handler took as a JSON 500, and does not re-raise it.

    Starlette's outermost middleware would answer too, but then re-raise, so the server closes
    the keep-alive connection, and its answer bypasses the middlewares that add ``X-Request-ID``.
    This one sits inside them. Only a response that had already started cannot be repaired: then
    the exception propagates and the server drops the connection, which is the only way left to
    tell the client the body is incomplete.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            logger.opt(exception=error).error("{} {} -> 500: {}", scope["method"], scope["path"], error)
            if started:
                raise
            await JSONResponse(INTERNAL_ERROR_BODY, status_code=500)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Typed errors, validation and routing errors -> JSON envelopes (the rest: the boundary)."""
    app.add_exception_handler(DocserveError, _docserve_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
