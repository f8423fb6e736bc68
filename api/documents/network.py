"""An httpx transport that checks every address it connects to (SSRF guard, DNS-rebinding safe).

Checking a URL's host before the request is not enough: a name can resolve to a public address
for the check and to 169.254.169.254 for the connection, and a redirect can point anywhere. So
the guard sits where the socket is opened: the host is resolved once, every address is checked,
and the connection goes to the checked address (TLS still verifies the original host name).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable

import httpcore
import httpx

from docserve.api.documents.locations import check_address
from docserve.contract.errors import FetchFailedError


class _GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, allow_private_hosts: bool):
        self._inner = httpcore.AnyIOBackend()
        self._allow_private_hosts = allow_private_hosts

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await _resolve_checked(host, port, self._allow_private_hosts)
        return await self._inner.connect_tcp(
            address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolve_checked(host: str, port: int, allow_private_hosts: bool) -> str:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise FetchFailedError(f"cannot resolve host {host!r}: {error.strerror}") from error
    addresses = [info[4][0] for info in infos]
    for address in addresses:  # every answer, not just the first: the OS might pick any
        check_address(host, address, allow_private_hosts)
    return addresses[0]


class GuardedTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose connection pool opens sockets through the guard.

    httpx has no public hook for httpcore's network backend, so the pool's backend is swapped
    after construction (httpcore 1.x attribute; ``tests/api/documents`` pins the behaviour). No
    proxy from the environment: a proxy would connect on our behalf, unguarded.
    """

    def __init__(self, allow_private_hosts: bool, **kwargs):
        super().__init__(trust_env=False, **kwargs)
        self._pool._network_backend = _GuardedNetworkBackend(allow_private_hosts)
