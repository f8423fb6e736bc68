"""Redis in front of the job store for reads: cache-aside, final jobs only.

``DOCSERVE_REDIS_URL`` (optional). ``get`` reads Redis first, then the store; a final job
(succeeded, failed, cancelled: it no longer changes but for its callback bookkeeping) is put in
the cache when it is read, and the Kafka queue reads it right after storing an outcome, so the
cache is also filled on completion. Entries expire after ``DOCSERVE_RESULT_CACHE_TTL_S``.
Running jobs are never cached: their status would go stale. The store stays the record: a Redis
that is down or was restarted empty costs a store read, never a result (errors are logged, not
raised). Every other method is the store's.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import redis.asyncio as redis
from loguru import logger
from redis.exceptions import RedisError

from docserve.api.jobs.protocols import JobStore
from docserve.api.jobs.records import AttemptStart, CallbackState, Job, JobRequest
from docserve.contract.jobs import JobStatus

KEY_PREFIX = "docserve:job:"
REDIS_TIMEOUT_S = 0.5


def _encode(job: Job) -> str:
    return json.dumps({**asdict(job), "status": job.status.value})


def _decode(text: bytes | str) -> Job:
    fields: dict[str, Any] = json.loads(text)
    return Job(**{**fields, "status": JobStatus(fields["status"])})


class CachedJobStore:
    """A ``JobStore`` whose ``get`` goes through Redis."""

    def __init__(self, store: JobStore, redis_url: str, ttl_s: float):
        self.store = store
        self.ttl_s = ttl_s
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=REDIS_TIMEOUT_S,
                                           socket_connect_timeout=REDIS_TIMEOUT_S)

    async def get(self, request_id: str) -> Job:
        key = KEY_PREFIX + request_id
        try:
            cached = await self._redis.get(key)
        except RedisError as error:
            logger.warning("result cache unavailable ({}); reading the store", error)
            cached = None
        if cached is not None:
            return _decode(cached)
        job = await self.store.get(request_id)
        if job.status.final:
            await self._remember(job)
        return job

    async def _remember(self, job: Job) -> None:
        try:
            await self._redis.set(KEY_PREFIX + job.request_id, _encode(job), px=int(self.ttl_s * 1000))
        except RedisError as error:
            logger.warning("result cache unavailable ({}); job {} not cached", error, job.request_id)

    async def _forget(self, request_id: str) -> None:
        try:
            await self._redis.delete(KEY_PREFIX + request_id)
        except RedisError as error:
            logger.warning("result cache unavailable ({}); job {} may stay cached", error, request_id)

    async def set_callback_state(self, request_id: str, state: CallbackState) -> None:
        await self.store.set_callback_state(request_id, state)
        await self._forget(request_id)

    async def submit(self, request: JobRequest) -> tuple[Job, bool]:
        return await self.store.submit(request)

    async def list(self, status: JobStatus | None, limit: int, owner: str | None = None) -> list[Job]:
        return await self.store.list(status, limit, owner)

    async def counts(self, owner: str | None = None) -> dict[str, int]:
        return await self.store.counts(owner)

    async def oldest_queued_age_s(self) -> float | None:
        return await self.store.oldest_queued_age_s()

    async def cancel(self, request_id: str) -> Job:
        return await self.store.cancel(request_id)

    async def partial_pages(self, request_id: str) -> list[dict[str, Any]]:
        return await self.store.partial_pages(request_id)

    async def pending_callbacks(self, limit: int = 100) -> list[Job]:
        return await self.store.pending_callbacks(limit)

    async def start_attempt(self, request: JobRequest, worker_id: str, lease_s: float) -> AttemptStart:
        return await self.store.start_attempt(request, worker_id, lease_s)

    async def close(self) -> None:
        await self._redis.aclose()
        await self.store.close()
