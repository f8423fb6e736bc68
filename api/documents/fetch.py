"""Read a document's bytes from its location, within the configured limits.

Used by job workers (never by the request handlers that accept jobs, so the gateway never holds
documents it is only asked to queue) and by synchronous predictions of a location.

A fetch has one deadline, ``DOCSERVE_FETCH_TIMEOUT_S``, for everything: connecting, every
redirect and every read. A per-read timeout alone lets a server that sends one byte every few
seconds hold a worker for ever. S3 objects are read the same way: boto3 signs a short-lived
GET URL and the object streams through an async HTTP client under the same deadline (boto3's
own blocking reads could only be bounded per read, in a thread no deadline can stop).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import httpx

from docserve.api.documents.locations import Location, parse_location, resolve_file
from docserve.api.documents.network import GuardedTransport
from docserve.api.settings import Settings
from docserve.contract.errors import (
    DocserveError,
    DocumentError,
    DocumentNotFoundError,
    DocumentTooLargeError,
    FetchFailedError,
    LocationRefusedError,
)

MAX_REDIRECTS = 5
_CHUNK = 64 * 1024


_SCHEMES = ("file", "http", "https", "s3")


def _scheme_label(url: str) -> str:
    """The location's scheme as a metric label: one of ours, else "other" (clients choose
    the text, and a label must not take unbounded values)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return scheme if scheme in _SCHEMES else "other"


class DocumentFetcher:
    """Fetches ``file://``, ``http(s)://`` and ``s3://`` locations; one per process."""

    def __init__(self, settings: Settings,
                 on_failure: Callable[[str, DocserveError], None] = lambda scheme, error: None):
        self.settings = settings
        self._on_failure = on_failure  # (scheme, error) of every failed fetch, for metrics
        self.max_bytes = settings.max_document_bytes
        self.timeout_s = settings.fetch_timeout_s
        self._http = httpx.AsyncClient(
            transport=GuardedTransport(allow_private_hosts=settings.allow_private_hosts),
            timeout=httpx.Timeout(settings.fetch_timeout_s),
            follow_redirects=False,  # followed by hand: each hop is validated
        )
        # The S3 endpoint is the operator's (DOCSERVE_S3_ENDPOINT_URL), not the client's: unguarded.
        self._s3_http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.fetch_timeout_s), follow_redirects=False, trust_env=False
        )
        self._s3 = None

    async def close(self) -> None:
        await self._http.aclose()
        await self._s3_http.aclose()

    def parse(self, url: str) -> Location:
        return parse_location(url, self.settings.allowed_file_roots, self.settings.allow_private_hosts)

    async def fetch(self, url: str) -> bytes:
        """The document at ``url``; a typed :class:`DocserveError` (counted) if it cannot be had."""
        try:
            return await self._fetch(url)
        except DocserveError as error:
            self._on_failure(_scheme_label(url), error)
            raise

    async def _fetch(self, url: str) -> bytes:
        location = self.parse(url)
        if location.scheme == "file":
            return await asyncio.to_thread(self._read_file, location)
        remote = self._read_s3(location) if location.scheme == "s3" else self._read_http(location.url)
        try:
            return await asyncio.wait_for(remote, self.timeout_s)
        except asyncio.TimeoutError as error:
            raise FetchFailedError(
                f"fetching {url} did not finish within {self.timeout_s}s "
                "(DOCSERVE_FETCH_TIMEOUT_S bounds the whole fetch: connecting and all reads)"
            ) from error

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
                    return await self._read_body(response, url)
            except httpx.TimeoutException as error:
                raise FetchFailedError(f"fetching {url}: no answer for {self.timeout_s}s") from error
            except httpx.TransportError as error:
                raise FetchFailedError(f"fetching {url} failed: {error}") from error
        raise DocumentError(f"more than {MAX_REDIRECTS} redirects from {url}")

    def _next_hop(self, url: str, target: str) -> str:
        if not target:  # the server's answer is malformed, and will stay so: permanent
            raise DocumentError(f"{url} answered a redirect without a Location")
        hop = urljoin(url, target)
        if urlsplit(hop).scheme.lower() not in ("http", "https"):
            raise LocationRefusedError(f"{url} redirects to {hop}: only http(s) redirects are followed")
        self.parse(hop)  # the same static rules as a submitted location; connecting re-checks
        return hop

    @staticmethod
    def _check_status(response: httpx.Response, url: str, detail: str = "") -> None:
        answered = f"{url} answered {response.status_code}{detail}"
        if response.status_code in (404, 410):
            raise DocumentNotFoundError(answered)
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise FetchFailedError(answered)
        if response.status_code >= 300:  # 4xx, and redirects where none are followed (S3)
            raise DocumentError(answered)

    async def _read_body(self, response: httpx.Response, url: str) -> bytes:
        self._check_size(int(response.headers.get("content-length") or 0), url)
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
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            )
        return self._s3

    def _presign(self, location: Location) -> str:
        from botocore.exceptions import BotoCoreError

        try:
            return self._s3_client().generate_presigned_url(
                "get_object", Params={"Bucket": location.host, "Key": location.path},
                ExpiresIn=int(self.timeout_s) + 60,
            )
        except BotoCoreError as error:  # no credentials, an invalid bucket name: no retry helps
            raise DocumentError(f"{location.url}: {error}") from error

    async def _read_s3(self, location: Location) -> bytes:
        signed = await asyncio.to_thread(self._presign, location)  # may look up credentials
        try:
            async with self._s3_http.stream("GET", signed) as response:
                if response.status_code != 200:
                    code = _S3_ERROR_CODE.search((await response.aread())[:4096].decode("utf-8", "replace"))
                    self._check_status(response, location.url, f" {code.group(1)}" if code else "")
                return await self._read_body(response, location.url)
        except httpx.TimeoutException as error:
            raise FetchFailedError(f"fetching {location.url}: no answer for {self.timeout_s}s") from error
        except httpx.TransportError as error:
            raise FetchFailedError(f"fetching {location.url} failed: {error}") from error


_S3_ERROR_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
