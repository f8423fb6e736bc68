"""Headers that keep a browser from misusing the gateway's answers: every response is
``nosniff`` (a JSON error or an uploaded page image is never run as a script or a page) and may not
be framed (no clickjacking of the page at ``/``); the page itself gets a Content-Security-Policy
that allows only its own script, style sheet, API calls and the page images it makes blob URLs of.

The policy applies to ``/`` only: FastAPI's ``/docs`` loads Swagger UI with an inline script
from a CDN, which this policy would block.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No 'unsafe-inline' anywhere: the page's script and styles are the files under /static.
PAGE_CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",  # page images are fetched with the API key, shown as blob: URLs
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])
EVERY_RESPONSE = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"))


class SecurityHeadersMiddleware:
    """Adds :data:`EVERY_RESPONSE` to every HTTP response (pure ASGI: nothing is buffered)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in EVERY_RESPONSE if header[0] not in present)
            await send(message)

        await self.app(scope, receive, send_with_headers)
