"""uvicorn's HTTP protocol (httptools), with a limit on the size of a request's headers.

httptools has no such limit and uvicorn sets none: a client could send one 64 MiB header and the
gateway would read and hold it all (seconds of CPU, hundreds of MB) before any route saw the
request. This protocol counts the bytes of a request's head as they arrive; past the limit it
answers 431 ``request_headers_too_large`` at once and closes the connection, so the rest is never
read. It is what ``docserve serve`` runs (:func:`docserve.api.server.gateway_config`).
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from docserve.contract.errors import RequestHeadersTooLargeError

DEFAULT_MAX_HEADER_BYTES = 64 * 1024  # request line and headers; browsers send a few KB


class HeaderLimitedProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` refusing a head over ``max_header_bytes`` (431, then close).

    The check runs after each read is parsed, so what is held is at most the limit plus one read.
    A read that completes a head is not counted against it: its rest is body.
    """

    max_header_bytes = DEFAULT_MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # until the first request's headers are complete
        self._head_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_header_bytes and not self.transport.is_closing():
            self._refuse()

    def _refuse(self) -> None:
        error = RequestHeadersTooLargeError(
            f"the request's headers are over {self.max_header_bytes} bytes (DOCSERVE_MAX_HEADER_BYTES)"
        )
        self.logger.warning("request refused: %s", error.message)
        body = json.dumps(error.body(), separators=(",", ":")).encode()
        head = (f"HTTP/1.1 {error.status_code} Request Header Fields Too Large\r\n"
                "content-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode("latin-1")
        self.transport.write(head + body)
        self.transport.close()


def header_limited(max_header_bytes: int) -> type[HeaderLimitedProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with this limit."""
    return type("HeaderLimitedProtocol", (HeaderLimitedProtocol,), {"max_header_bytes": max_header_bytes})
