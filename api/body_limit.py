"""Request bodies are limited while they are read, so an oversized one costs nothing to refuse.

Checking ``len(await request.body())`` would first hold the whole body in memory (a 191 MB JSON
body once cost the gateway 3 GB and stalled its event loop for seconds). This ASGI middleware
sits in front of every route: a ``Content-Length`` over the limit is answered 413 before any
byte is read, and a streamed (chunked) body is counted as it arrives and answered 413 the moment
it passes the limit. The limit depends on the route: JSON bodies are small
(``DOCSERVE_MAX_JSON_BODY_BYTES``); multipart uploads to the routes that take documents may be
as large as a document (``DOCSERVE_MAX_DOCUMENT_BYTES``, plus the multipart framing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.responses import JSONResponse
from loguru import logger
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docserve.api.request_bodies import MULTIPART_OVERHEAD_BYTES
from docserve.contract.errors import PayloadTooLargeError

# The routes that accept a document as multipart/form-data.
UPLOAD_ROUTES = re.compile(r"^/api/v1/(?:jobs|pipelines/[^/]+/predict)$")


@dataclass(frozen=True)
class BodyLimits:
    json_bytes: int
    document_bytes: int

    def for_request(self, path: str, content_type: str) -> tuple[int, str]:
        """The byte limit of a request's body, and the setting that sets it."""
        if content_type.lower().startswith("multipart/form-data") and UPLOAD_ROUTES.match(path):
            return self.document_bytes + MULTIPART_OVERHEAD_BYTES, "DOCSERVE_MAX_DOCUMENT_BYTES"
        return self.json_bytes, "DOCSERVE_MAX_JSON_BODY_BYTES"


class BodyLimitMiddleware:
    """Answers 413 as soon as a request body is known to be over its route's limit."""

    def __init__(self, app: ASGIApp, limits: BodyLimits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit, setting = self.limits.for_request(scope["path"], headers.get("content-type", ""))
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(scope, send, limit, setting)
            return
        body = _LimitedBody(scope, receive, send, limit, setting)
        try:
            await self.app(scope, body.receive, body.send)
        except Exception:
            if not body.refused:
                raise
            # The application failed on the disconnect it was shown after the 413: expected.


class _LimitedBody:
    """One request's receive/send pair, counting body bytes; past the limit the client gets 413
    and the application sees a disconnected client (its own late answer is dropped)."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, limit: int, setting: str):
        self.scope, self._receive, self._send = scope, receive, send
        self.limit, self.setting = limit, setting
        self.received = 0
        self.refused = False
        self.started = False

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit and not self.started:
                self.refused = True
                await _too_large(self.scope, self._send, self.limit, self.setting)
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)


async def _too_large(scope: Scope, send: Send, limit: int, setting: str) -> None:
    error = PayloadTooLargeError(
        f"the request body is larger than the {limit} bytes {scope['path']} accepts ({setting})"
    )
    logger.warning("{} {} -> 413: {}", scope["method"], scope["path"], error.message)
    response = JSONResponse(error.body(), status_code=413, headers={"Connection": "close"})
    await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}
