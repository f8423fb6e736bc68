"""A gateway served by a real uvicorn on 127.0.0.1, for what only a real HTTP server shows
(keep-alive connections, bodies streamed in chunks, a 413 sent before the body is read)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from docserve.api.embedded_triton import free_port
from docserve.api.header_limit import DEFAULT_MAX_HEADER_BYTES
from docserve.api.server import gateway_config


@contextmanager
def serve(app: FastAPI, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> Iterator[tuple[str, int]]:
    """Run ``app`` (lifespan included) on a free port, served as ``docserve serve`` serves it;
    yields ``(host, port)``."""
    port = free_port()
    server = uvicorn.Server(gateway_config(app, "127.0.0.1", port, max_header_bytes))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def raw_request(sock: socket.socket, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one HTTP/1.1 request on an open connection and read its (Content-Length) response."""
    sock.sendall(request)
    return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside the body")
        body += chunk
    return int(status_line.split()[1]), headers, body
