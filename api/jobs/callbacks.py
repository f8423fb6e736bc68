"""Result callbacks: POST the final job to the client's ``callback_url``, with retries.

Callback URLs obey the same rules as document locations (no internal addresses unless allowed):
the HTTP client connects through the same guarded transport. Delivery state is stored, so a
callback that was pending when the gateway stopped is sent after it starts again. With
``DOCSERVE_CALLBACK_SECRET`` set, every POST is signed (see ``callback_signature``); each attempt
is signed anew, so a retry an hour later is not refused as stale.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from loguru import logger

from docserve.api.documents.network import GuardedTransport
from docserve.api.jobs.protocols import JobStore
from docserve.api.schemas.jobs import job_view
from docserve.api.settings import Settings
from docserve.contract.callback_signature import signature_headers
from docserve.contract.errors import DocserveError

REDELIVERY_INTERVAL_S = 30.0


class CallbackSender:
    def __init__(self, settings: Settings, store: JobStore):
        self.settings = settings
        self.store = store
        self._http = httpx.AsyncClient(
            transport=GuardedTransport(allow_private_hosts=settings.allow_private_hosts),
            timeout=httpx.Timeout(settings.fetch_timeout_s),
            follow_redirects=False,
        )
        self._in_flight: dict[tuple[str | None, str], asyncio.Task] = {}  # by (owner, request_id)

    async def close(self) -> None:
        for task in self._in_flight.values():
            task.cancel()
        for task in list(self._in_flight.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._http.aclose()

    def schedule(self, request_id: str, owner: str | None) -> None:
        key = (owner, request_id)
        if key not in self._in_flight:
            task = asyncio.create_task(self.deliver(request_id, owner), name=f"callback-{request_id}")
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))

    def _finished(self, key: tuple[str | None, str], task: asyncio.Task) -> None:
        """Forget a delivery; a bug in it is logged here (asyncio would only warn at exit)."""
        self._in_flight.pop(key, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            request_id = key[1]
            logger.opt(exception=error).bind(request_id=request_id).error(
                "callback for {} failed unexpectedly: {}", request_id, error)

    async def deliver(self, request_id: str, owner: str | None) -> bool:
        job = await self.store.get(request_id, owner)
        if not job.callback_url:
            return False
        body = job_view(job).model_dump_json().encode()
        log = logger.bind(request_id=request_id)
        reason = "no attempt"
        for attempt in range(1, self.settings.callback_attempts + 1):
            try:
                response = await self._http.post(job.callback_url, content=body, headers=self._headers(body))
                if response.status_code < 300:
                    await self.store.set_callback_state(request_id, "delivered", owner)
                    log.info("callback for {} delivered to {}", request_id, job.callback_url)
                    return True
                reason = f"answered {response.status_code}"
            except httpx.InvalidURL as error:  # stored before submissions were parsed by httpx
                reason = f"the URL cannot be sent to: {error}"
                break
            except (httpx.HTTPError, DocserveError) as error:
                reason = self._reason(error)
                if isinstance(error, DocserveError) and not error.transient:
                    break  # a refused address stays refused
            log.warning("callback for {} attempt {} failed: {}", request_id, attempt, reason)
            await asyncio.sleep(self.settings.job_retry_base_s * 2 ** (attempt - 1))
        await self.store.set_callback_state(request_id, "failed", owner)
        log.error("callback for {} to {} abandoned: {}", request_id, job.callback_url, reason)
        return False

    def _reason(self, error: Exception) -> str:
        """Why an attempt failed, never empty: httpx's timeouts often carry no message."""
        if isinstance(error, httpx.TimeoutException):
            return f"no answer within {self.settings.fetch_timeout_s}s ({type(error).__name__})"
        return str(error) or type(error).__name__

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.settings.callback_secret is not None:
            headers |= signature_headers(body, self.settings.callback_secret.get_secret_value())
        return headers

    async def redeliver_pending(self) -> None:
        """Forever: send callbacks left pending by an earlier process."""
        while True:
            for job in await self.store.pending_callbacks():
                self.schedule(job.request_id, job.owner)
            await asyncio.sleep(REDELIVERY_INTERVAL_S)
