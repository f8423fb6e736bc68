"""The gateway's HTTP answers for errors: one handler for every :mod:`docserve.contract.errors`
error, FastAPI's and Starlette's own errors as the contract errors of their codes, and a boundary
for the unexpected.

Routers and services raise contract errors; every answer's status is its code's row of the error
table (nothing here decides one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docserve.contract.errors import (
    BadRequestError,
    DocserveError,
    HttpError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationFailedError,
)


async def _docserve_error(request: Request, error: DocserveError) -> JSONResponse:
    return _answer(request, error)


def _answer(request: Request, error: DocserveError, headers: dict[str, str] | None = None) -> JSONResponse:
    log = logger.warning if error.status_code < 500 else logger.error
    details = "" if error.details is None else f" {error.details}"
    log("{} {} -> {} {}: {}{}", request.method, request.url.path, error.status_code, error.code,
        error.message, details)
    headers = {**(error.headers or {}), **(headers or {})}
    if error.retry_after_s is not None:
        headers["Retry-After"] = str(error.retry_after_s)
    return JSONResponse(error.body(), status_code=error.status_code, headers=headers or None)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    details = [
        {"location": list(item["loc"]), "message": item["msg"], "type": item["type"]}
        for item in error.errors()
    ]
    return _answer(request, ValidationFailedError(_validation_message(error.errors()), details=details))


_PARAMETER_PLACES = ("path", "query", "header", "cookie")


def _validation_message(errors: Sequence[dict[str, Any]]) -> str:
    """What is invalid, by where it is: ``query parameter 'wait' is invalid: <why>``, or the
    request body; the client should not have to read ``details`` to learn it was no body."""
    places = list(dict.fromkeys(_place(item["loc"]) for item in errors)) or ["request body"]
    if len(places) > 1:
        return f"{' and '.join(places)} are invalid"
    if places == ["request body"]:
        return "request body is invalid"
    return f"{places[0]} is invalid: {errors[0]['msg']}"


def _place(location: Sequence[Any]) -> str:
    if len(location) >= 2 and location[0] in _PARAMETER_PLACES:
        return f"{location[0]} parameter {location[1]!r}"
    return "request body"


# Starlette's own errors (no route, wrong method, unparsable multipart body) by status.
_FRAMEWORK_ERRORS: dict[int, type[DocserveError]] = {
    400: BadRequestError, 404: NotFoundError, 405: MethodNotAllowedError, 413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
}


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    """Routing and body-parsing errors in the project's envelope, keeping headers such as ``Allow``."""
    kind = _FRAMEWORK_ERRORS.get(error.status_code)
    answered = kind(str(error.detail)) if kind else _http_error_of(error)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return _answer(request, answered, headers)


def _http_error_of(error: HTTPException) -> HttpError:
    """A framework error of a status no code has: ``http_error``, with the framework's status."""
    answered = HttpError(str(error.detail))
    answered.status_code = error.status_code
    return answered


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only its first match's)."""
    routes = request.app.router.routes
    return [
        method for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


INTERNAL_ERROR_BODY = DocserveError("internal error; see the gateway log").body()


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
