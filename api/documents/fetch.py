"""Read a document's bytes from its location, within the configured limits.

Used by job workers (never by the request handlers that accept jobs, so the gateway never holds
documents it is only asked to queue) and by synchronous predictions of a location.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urljoin, urlsplit

import httpx

from docserve.api.documents.locations import Location, parse_location, resolve_file
from docserve.api.documents.network import GuardedTransport
from docserve.api.errors import (
    DocumentError,
    DocumentNotFoundError,
    DocumentTooLargeError,
    FetchFailedError,
    LocationRefusedError,
)
from docserve.api.settings import Settings

MAX_REDIRECTS = 5
_CHUNK = 64 * 1024


class DocumentFetcher:
    """Fetches ``file://``, ``http(s)://`` and ``s3://`` locations; one per process."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.max_bytes = settings.max_document_bytes
        self._http = httpx.AsyncClient(
            transport=GuardedTransport(allow_private_hosts=settings.allow_private_hosts),
            timeout=httpx.Timeout(settings.fetch_timeout_s),
            follow_redirects=False,  # followed by hand: each hop is validated
        )
        self._s3 = None

    async def close(self) -> None:
        await self._http.aclose()

    def parse(self, url: str) -> Location:
        return parse_location(url, self.settings.allowed_file_roots, self.settings.allow_private_hosts)

    async def fetch(self, url: str) -> bytes:
        location = self.parse(url)
        if location.scheme == "file":
            return await asyncio.to_thread(self._read_file, location)
        if location.scheme == "s3":
            return await asyncio.to_thread(self._read_s3, location)
        return await self._read_http(location.url)

    def _read_file(self, location: Location) -> bytes:
        path = resolve_file(location.path, self.settings.allowed_file_roots)
        try:
            self._check_size(path.stat().st_size, location.url)
            with path.open("rb") as handle:
                return handle.read(self.max_bytes + 1)
        except OSError as error:  # permissions, a file removed meanwhile, an I/O error
            raise DocumentError(f"{location.url} cannot be read: {error.strerror or error}") from error

    async def _read_http(self, url: str) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with self._http.stream("GET", url) as response:
                    if response.is_redirect:
                        url = self._next_hop(url, response.headers.get("location", ""))
                        continue
                    self._check_status(response, url)
                    self._check_size(int(response.headers.get("content-length") or 0), url)
                    return await self._read_body(response, url)
            except httpx.TimeoutException as error:
                timeout = self.settings.fetch_timeout_s
                raise FetchFailedError(f"fetching {url} timed out ({timeout}s)") from error
            except httpx.TransportError as error:
                raise FetchFailedError(f"fetching {url} failed: {error}") from error
        raise DocumentError(f"more than {MAX_REDIRECTS} redirects from {url}")

    def _next_hop(self, url: str, target: str) -> str:
        if not target:
            raise FetchFailedError(f"{url} answered a redirect without a Location")
        hop = urljoin(url, target)
        if urlsplit(hop).scheme.lower() not in ("http", "https"):
            raise LocationRefusedError(f"{url} redirects to {hop}: only http(s) redirects are followed")
        self.parse(hop)  # the same static rules as a submitted location; connecting re-checks
        return hop

    @staticmethod
    def _check_status(response: httpx.Response, url: str) -> None:
        if response.status_code == 404 or response.status_code == 410:
            raise DocumentNotFoundError(f"{url} answered {response.status_code}")
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise FetchFailedError(f"{url} answered {response.status_code}")
        if response.status_code >= 400:
            raise DocumentError(f"{url} answered {response.status_code}")

    async def _read_body(self, response: httpx.Response, url: str) -> bytes:
        body = bytearray()
        async for chunk in response.aiter_bytes(_CHUNK):
            body += chunk
            self._check_size(len(body), url)
        return bytes(body)

    def _check_size(self, size: int, url: str) -> None:
        if size > self.max_bytes:
            raise DocumentTooLargeError(
                f"{url} is larger than the {self.max_bytes} bytes a document may have "
                "(DOCSERVE_MAX_DOCUMENT_BYTES)"
            )

    def _s3_client(self):
        if self._s3 is None:
            import boto3
            from botocore.config import Config

            self._s3 = boto3.client(
                "s3",
                endpoint_url=self.settings.s3_endpoint_url,
                config=Config(
                    connect_timeout=self.settings.fetch_timeout_s,
                    read_timeout=self.settings.fetch_timeout_s,
                    retries={"max_attempts": 2},
                    s3={"addressing_style": "path"},
                ),
            )
        return self._s3

    def _read_s3(self, location: Location) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            obj = self._s3_client().get_object(Bucket=location.host, Key=location.path)
            self._check_size(int(obj.get("ContentLength", 0)), location.url)
            return obj["Body"].read(self.max_bytes + 1)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "NoSuchBucket", "404"):
                raise DocumentNotFoundError(f"{location.url}: {code}") from error
            if code in ("AccessDenied", "403"):
                raise DocumentError(f"{location.url}: access denied") from error
            raise FetchFailedError(f"{location.url}: {code or error}") from error
        except BotoCoreError as error:
            raise FetchFailedError(f"{location.url}: {error}") from error
