"""Cross-origin writes are refused: CORS alone does not stop them.

A web page of any origin can POST a form (even multipart, with a file) to the gateway without a
preflight: CORS only keeps the page from *reading* the answer, and by then the job exists. So a
state-changing request whose ``Origin`` header is present and is neither the gateway's own origin
(the page at ``/`` calling its API) nor one of ``DOCSERVE_CORS_ORIGINS`` is answered 403
``origin_refused`` before anything is read, API keys on or off. Clients that are no browser send
no ``Origin`` and are not concerned.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi.responses import JSONResponse
from loguru import logger
from starlette.types import ASGIApp, Receive, Scope, Send

from docserve.contract.errors import OriginRefusedError

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def own_origin(scope: Scope) -> str:
    """``scheme://host[:port]`` the request was sent to, as a browser on that page writes its
    ``Origin`` (the ``Host`` header carries the port unless it is the scheme's default)."""
    host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}".lower()


class OriginCheckMiddleware:
    """Answers 403 to a state-changing request from a foreign ``Origin`` (pure ASGI)."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str]):
        self.app = app
        self.allowed = {origin.rstrip("/").lower() for origin in allowed_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in STATE_CHANGING:
            origin = dict(scope.get("headers", [])).get(b"origin")
            if origin is not None and not self._allowed(origin.decode("latin-1").lower(), scope):
                await _refuse(origin.decode("latin-1"), scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _allowed(self, origin: str, scope: Scope) -> bool:
        return "*" in self.allowed or origin in self.allowed or origin == own_origin(scope)


async def _refuse(origin: str, scope: Scope, receive: Receive, send: Send) -> None:
    error = OriginRefusedError(f"{scope['method']} from the web origin {origin!r} is refused: only the "
                               "gateway's own page and DOCSERVE_CORS_ORIGINS may change state")
    logger.warning("{} {} -> 403 origin_refused: {}", scope["method"], scope["path"], error.message)
    await JSONResponse(error.body(), status_code=error.status_code)(scope, receive, send)
