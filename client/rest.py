"""REST client of the docserve gateway: send a job, receive it, wait for it, predict directly.

Every call returns the gateway's own pydantic models (:class:`JobView`), and every error answer
raises the :mod:`docserve.contract.errors` class its code names, the one the gateway raised
(:class:`NotFoundError`, :class:`ConflictError`, :class:`DocumentError`, ...; all are
:class:`DocserveError`), with the answer's ``status_code``, ``code``, ``message``, ``details``
and ``retry_after_s``::

    with DocServeClient("http://localhost:8080") as client:
        client.send("scan-1", "s3://inbox/scan-1.pdf", pipeline="ocr")    # a location, or
        client.upload("scan-2", Path("scan-2.pdf"), pipeline="ocr")        # a local file
        job = client.wait("scan-1", timeout=120)
        print(job.status, job.result)

A full queue (or a key over its rate) is waited out, the sync and the async client alike: a
submission is sent again after each ``Retry-After``, for at most ``max_queue_wait_s`` seconds,
after which the :class:`QueueFullError` (:class:`RateLimitedError`) is raised.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from docserve.contract.errors import (
    DocserveError,
    HttpError,
    QueueFullError,
    RateLimitedError,
    error_from_answer,
)
from docserve.contract.jobs import MAX_WAIT_S, JobView
from docserve.contract.page_result import DocumentResult

MAX_QUEUE_WAIT_S = 300.0  # how long a submission waits out a full queue, by default
_COME_BACK_LATER = (QueueFullError, RateLimitedError)  # the gateway asks to resubmit after Retry-After


class WaitTimeout(TimeoutError):
    """The job did not finish within the time the caller gave :meth:`wait`."""


def _raise_for_error(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json()["error"]
        code, message, details = error["code"], error["message"], error.get("details")
    except (ValueError, KeyError, TypeError):
        code, message, details = HttpError.code, response.text[:500], None
    raise error_from_answer(response.status_code, code, message, details,
                            _retry_after_s(response.headers.get("retry-after")))


def _retry_after_s(header: str | None) -> int | None:
    """The gateway's ``Retry-After`` (whole seconds); None when absent or not a number."""
    try:
        return int(header) if header is not None else None
    except ValueError:
        return None


def _queue_wait_s(busy: DocserveError, deadline: float) -> float:
    """How long to wait before submitting again; re-raises ``busy`` when the gateway gave no
    ``Retry-After`` or the wait would pass ``deadline``."""
    if busy.retry_after_s is None or time.monotonic() + busy.retry_after_s > deadline:
        raise busy
    return busy.retry_after_s


def _job_body(request_id: str, location: str, pipeline: str, pages: list[int] | None,
              callback_url: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"request_id": request_id, "pipeline": pipeline, "location": location}
    if pages:
        body["options"] = {"pages": pages}
    if callback_url:
        body["callback_url"] = callback_url
    return body


def _auth_headers(api_key: str | None) -> dict[str, str]:
    """The key a gateway with API keys wants (``docserve keys create``)."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _wait_s(deadline: float) -> float:
    """The next long poll's length: what is left of the caller's timeout, at most the gateway's."""
    return max(0.0, min(MAX_WAIT_S, deadline - time.monotonic()))


def _wait_params(wait: float, partial: bool = False) -> dict[str, str]:
    params = {"wait": f"{wait:.3f}"} if wait > 0 else {}
    if partial:
        params["include"] = "partial"
    return params


def _poll_timeout(timeout: httpx.Timeout, wait: float) -> httpx.Timeout:
    """The client's timeout, with room for the gateway to hold a long poll for ``wait`` seconds."""
    if timeout.read is None or timeout.read > wait + 10:
        return timeout
    return httpx.Timeout(timeout.connect, read=wait + 10, write=timeout.write, pool=timeout.pool)


def _upload_form(request_id: str, pipeline: str, pages: list[int] | None,
                 callback_url: str | None) -> dict[str, str]:
    """The text fields of a multipart job submission (``options`` travels as JSON)."""
    form = {"request_id": request_id, "pipeline": pipeline}
    if pages:
        form["options"] = json.dumps({"pages": pages})
    if callback_url:
        form["callback_url"] = callback_url
    return form


# A job's document: a location the workers fetch (str), or a local file (Path) or bytes to upload.
JobDocument = str | Path | bytes


def _document(path_or_bytes: str | Path | bytes) -> tuple[str, bytes]:
    if isinstance(path_or_bytes, bytes):
        return "document", path_or_bytes
    path = Path(path_or_bytes)
    return path.name, path.read_bytes()


class DocServeClient:
    """Synchronous client (httpx). Use as a context manager or call :meth:`close`."""

    def __init__(self, base_url: str = "http://localhost:8080", timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None, api_key: str | None = None,
                 max_queue_wait_s: float = MAX_QUEUE_WAIT_S):
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport,
                                  headers=_auth_headers(api_key))
        self.max_queue_wait_s = max_queue_wait_s

    def __enter__(self) -> DocServeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(self, request_id: str, location: str, pipeline: str, pages: list[int] | None = None,
             callback_url: str | None = None) -> JobView:
        """Queue a job (idempotent on ``request_id``)."""
        body = _job_body(request_id, location, pipeline, pages, callback_url)
        return self._submit(lambda: self._http.post("/api/v1/jobs", json=body))

    def upload(self, request_id: str, document: Path | bytes, pipeline: str,
               pages: list[int] | None = None, callback_url: str | None = None) -> JobView:
        """Queue a job on a local document, uploaded with it (idempotent on ``request_id``:
        the same bytes again are the same job)."""
        name, data = _document(document)
        form = _upload_form(request_id, pipeline, pages, callback_url)
        return self._submit(
            lambda: self._http.post("/api/v1/jobs", files={"document": (name, data)}, data=form)
        )

    def _submit(self, post: Callable[[], httpx.Response]) -> JobView:
        deadline = time.monotonic() + self.max_queue_wait_s
        while True:
            response = post()
            try:
                _raise_for_error(response)
            except _COME_BACK_LATER as busy:
                time.sleep(_queue_wait_s(busy, deadline))
                continue
            return JobView.model_validate(response.json())

    def receive(self, request_id: str, wait: float = 0, partial: bool = False) -> JobView:
        """The job now, or (``wait`` > 0, at most 30) as soon as its status or progress changes;
        with ``partial``, the pages finished so far too (``JobView.partial``)."""
        response = self._http.get(f"/api/v1/jobs/{request_id}", params=_wait_params(wait, partial),
                                  timeout=_poll_timeout(self._http.timeout, wait))
        _raise_for_error(response)
        return JobView.model_validate(response.json())

    def page_image(self, request_id: str, page: int) -> bytes:
        """The PNG of page ``page`` (1-based) as the job analysed it: its result's coordinates
        are pixels of this image."""
        response = self._http.get(f"/api/v1/jobs/{request_id}/pages/{page}/image")
        _raise_for_error(response)
        return response.content

    def wait(self, request_id: str, timeout: float = 300.0) -> JobView:
        """Long-poll until the job is final (the gateway answers as soon as its status changes)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.receive(request_id, wait=_wait_s(deadline))
            if job.status.final:
                return job
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"job {request_id} still {job.status.value} after {timeout}s")

    def predict(self, document: str | Path | bytes, pipeline: str, pages: list[int] | None = None
                ) -> DocumentResult:
        """Synchronous analysis of one small document (uploaded)."""
        name, data = _document(document)
        form = {"pages": ",".join(map(str, pages))} if pages else None
        response = self._http.post(f"/api/v1/pipelines/{pipeline}/predict",
                                   files={"document": (name, data)}, data=form)
        _raise_for_error(response)
        return DocumentResult.model_validate(response.json())

    def pipelines(self) -> list[dict[str, Any]]:
        response = self._http.get("/api/v1/pipelines")
        _raise_for_error(response)
        return response.json()


class AsyncDocServeClient:
    """The same API for asyncio programs, plus :meth:`submit_many`."""

    def __init__(self, base_url: str = "http://localhost:8080", timeout: float = 60.0,
                 transport: httpx.AsyncBaseTransport | None = None, api_key: str | None = None,
                 max_queue_wait_s: float = MAX_QUEUE_WAIT_S):
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport,
                                       headers=_auth_headers(api_key))
        self.max_queue_wait_s = max_queue_wait_s

    async def __aenter__(self) -> AsyncDocServeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, request_id: str, location: str, pipeline: str,
                   pages: list[int] | None = None, callback_url: str | None = None) -> JobView:
        body = _job_body(request_id, location, pipeline, pages, callback_url)
        return await self._submit(lambda: self._http.post("/api/v1/jobs", json=body))

    async def upload(self, request_id: str, document: Path | bytes, pipeline: str,
                     pages: list[int] | None = None, callback_url: str | None = None) -> JobView:
        name, data = _document(document)
        form = _upload_form(request_id, pipeline, pages, callback_url)
        return await self._submit(
            lambda: self._http.post("/api/v1/jobs", files={"document": (name, data)}, data=form)
        )

    async def _submit(self, post: Callable[[], Awaitable[httpx.Response]]) -> JobView:
        deadline = time.monotonic() + self.max_queue_wait_s
        while True:
            response = await post()
            try:
                _raise_for_error(response)
            except _COME_BACK_LATER as busy:
                await asyncio.sleep(_queue_wait_s(busy, deadline))
                continue
            return JobView.model_validate(response.json())

    async def receive(self, request_id: str, wait: float = 0, partial: bool = False) -> JobView:
        response = await self._http.get(f"/api/v1/jobs/{request_id}", params=_wait_params(wait, partial),
                                        timeout=_poll_timeout(self._http.timeout, wait))
        _raise_for_error(response)
        return JobView.model_validate(response.json())

    async def page_image(self, request_id: str, page: int) -> bytes:
        response = await self._http.get(f"/api/v1/jobs/{request_id}/pages/{page}/image")
        _raise_for_error(response)
        return response.content

    async def wait(self, request_id: str, timeout: float = 300.0) -> JobView:
        deadline = time.monotonic() + timeout
        while True:
            job = await self.receive(request_id, wait=_wait_s(deadline))
            if job.status.final:
                return job
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"job {request_id} still {job.status.value} after {timeout}s")

    async def predict(self, document: str | Path | bytes, pipeline: str,
                      pages: list[int] | None = None) -> DocumentResult:
        name, data = _document(document)
        form = {"pages": ",".join(map(str, pages))} if pages else None
        response = await self._http.post(f"/api/v1/pipelines/{pipeline}/predict",
                                         files={"document": (name, data)}, data=form)
        _raise_for_error(response)
        return DocumentResult.model_validate(response.json())

    async def submit_many(
        self, jobs: Iterable[tuple[str, JobDocument]], pipeline: str, concurrency: int = 8,
        timeout: float = 600.0,
    ) -> AsyncIterator[JobView | DocserveError]:
        """Send ``(request_id, document)`` pairs — a location to fetch, or a local file or bytes
        to upload — at most ``concurrency`` in flight, and yield each final job (or the error that
        refused it) as soon as it is known."""
        pending = iter(jobs)
        finished: asyncio.Queue[JobView | DocserveError] = asyncio.Queue()

        async def one(request_id: str, document: JobDocument) -> None:
            try:
                if isinstance(document, str):
                    await self.send(request_id, document, pipeline)
                else:
                    await self.upload(request_id, document, pipeline)
                await finished.put(await self.wait(request_id, timeout=timeout))
            except DocserveError as error:
                error.request_id = request_id  # type: ignore[attr-defined]
                await finished.put(error)

        async def lane() -> None:
            for request_id, document in pending:
                await one(request_id, document)

        lanes = [asyncio.create_task(lane()) for _ in range(concurrency)]
        done = asyncio.gather(*lanes)
        while not (done.done() and finished.empty()):
            getter = asyncio.create_task(finished.get())
            await asyncio.wait({getter, done}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield getter.result()
            else:
                getter.cancel()
        await done
