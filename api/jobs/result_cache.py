"""Redis in front of the job store for reads: cache-aside, final jobs only.

``DOCSERVE_REDIS_URL`` (optional). ``get`` reads Redis first, then the store; a final job
(succeeded, failed, cancelled: it no longer changes but for its callback bookkeeping) is put in
the cache when it is read, and the Kafka queue reads it right after storing an outcome, so the
cache is also filled on completion. Entries expire after ``DOCSERVE_RESULT_CACHE_TTL_S``.
Running jobs are never cached: their status would go stale. The store stays the record: a Redis
that is down or was restarted empty costs a store read, never a result (errors are logged, not
raised). Every other method is the store's. An entry is keyed by the job's owner and request id
(``docserve:job:<owner folder>:<request_id>``), so two owners' jobs of one id never share one.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import redis.asyncio as redis
from loguru import logger
from redis.exceptions import RedisError

from docserve.api.jobs.protocols import JobStore
from docserve.api.jobs.records import (
    EVERY_OWNER,
    AttemptStart,
    CallbackState,
    Job,
    JobRequest,
    OwnerScope,
    owner_folder,
)
from docserve.contract.jobs import JobStatus

KEY_PREFIX = "docserve:job:"
REDIS_TIMEOUT_S = 0.5


def cache_key(request_id: str, owner: str | None) -> str:
    """The job's entry: its owner folder (``~``..., never a request id) keeps it apart from
    another owner's job of the same id and from the entries of earlier versions (by id alone)."""
    return f"{KEY_PREFIX}{owner_folder(owner)}:{request_id}"


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

    async def get(self, request_id: str, owner: str | None = None) -> Job:
        key = cache_key(request_id, owner)
        try:
            cached = await self._redis.get(key)
        except RedisError as error:
            logger.warning("result cache unavailable ({}); reading the store", error)
            cached = None
        if cached is not None:
            return _decode(cached)
        job = await self.store.get(request_id, owner)
        if job.status.final:
            await self._remember(job)
        return job

    async def _remember(self, job: Job) -> None:
        try:
            await self._redis.set(cache_key(job.request_id, job.owner), _encode(job),
                                  px=int(self.ttl_s * 1000))
        except RedisError as error:
            logger.warning("result cache unavailable ({}); job {} not cached", error, job.request_id)

    async def _forget(self, request_id: str, owner: str | None) -> None:
        try:
            await self._redis.delete(cache_key(request_id, owner))
        except RedisError as error:
            logger.warning("result cache unavailable ({}); job {} may stay cached", error, request_id)

    async def set_callback_state(self, request_id: str, state: CallbackState,
                                 owner: str | None = None) -> None:
        await self.store.set_callback_state(request_id, state, owner)
        await self._forget(request_id, owner)

    async def submit(self, request: JobRequest) -> tuple[Job, bool]:
        return await self.store.submit(request)

    async def list(self, status: JobStatus | None, limit: int, owner: OwnerScope = EVERY_OWNER) -> list[Job]:
        return await self.store.list(status, limit, owner)

    async def counts(self, owner: OwnerScope = EVERY_OWNER) -> dict[str, int]:
        return await self.store.counts(owner)

    async def oldest_queued_age_s(self) -> float | None:
        return await self.store.oldest_queued_age_s()

    async def cancel(self, request_id: str, owner: str | None = None) -> Job:
        return await self.store.cancel(request_id, owner)

    async def partial_pages(self, request_id: str, owner: str | None = None) -> list[dict[str, Any]]:
        return await self.store.partial_pages(request_id, owner)

    async def pending_callbacks(self, limit: int = 100) -> list[Job]:
        return await self.store.pending_callbacks(limit)

    async def legacy_owner(self, request_id: str) -> str | None:
        return await self.store.legacy_owner(request_id)

    async def start_attempt(self, request: JobRequest, worker_id: str, lease_s: float) -> AttemptStart:
        return await self.store.start_attempt(request, worker_id, lease_s)

    async def close(self) -> None:
        await self._redis.aclose()
        await self.store.close()
