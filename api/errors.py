"""The gateway's HTTP answers for errors: one handler for every :mod:`docserve.contract.errors`
error, the envelope for FastAPI's and Starlette's own errors, and a boundary for the unexpected.

Routers and services raise contract errors; nothing else decides status codes.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docserve.contract.errors import DocserveError


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
