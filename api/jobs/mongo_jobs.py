"""The scale-out job store: one MongoDB collection, shared by every gateway and worker machine.

``DOCSERVE_STORE=mongodb``. A document per job, keyed by ``(owner, request_id)`` (a unique
index: however many submissions of one owner's id race, one insert wins; the anonymous owner is
stored as ``""``, like SQLite's key column), holding what the SQLite backend's row holds: the
fingerprint for ``submit``'s check, the status, attempts, lease and outcome. Every
state change is one conditional update (``update_one`` / ``find_one_and_update`` filtered on
the status and the lease owner), so the first stored outcome wins and a worker that lost its
lease cannot overwrite the next attempt's.

It is also a ``JobQueue`` (claims by a conditional update, like SQLite's), which
``DOCSERVE_QUEUE=sqlite`` uses; with ``DOCSERVE_QUEUE=kafka`` the Kafka queue delivers the jobs
and leases them here through ``start_attempt``.

Retention: a job that reaches a final status gets ``expires_at`` (wall-clock time plus
``retention_s``) and the collection's TTL index removes it after that; queued and running jobs
never expire. The driver is pymongo's asyncio client (``AsyncMongoClient``), so nothing blocks
the event loop.

A collection of an earlier version (unique on ``request_id`` alone, anonymous jobs with a null
owner) is migrated by the first use of each process (``_scope_ids_by_owner``, idempotent): null
owners become ``""``, the ``(owner, request_id)`` index is built, then the old unique index goes;
every job stays reachable by its owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure

from docserve.api.jobs.claiming import claim_or_wait
from docserve.api.jobs.records import EVERY_OWNER, AttemptStart, CallbackState, Job, JobRequest, OwnerScope
from docserve.contract.errors import ConflictError, NotFoundError, QueueFullError
from docserve.contract.jobs import JobStatus

COLLECTION = "jobs"
PACE_WINDOW_S = 60.0  # the workers' recent pace, for Retry-After when the queue is full
FINAL = [JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value]
_LEASE_FIELDS = {"lease_owner": None, "lease_expires_at": None}


def _stored(owner: str | None) -> str:
    """The owner as the key holds it: the anonymous owner is ``""``."""
    return owner or ""


def _key(request_id: str, owner: str | None) -> dict[str, Any]:
    """The filter of one job."""
    return {"owner": _stored(owner), "request_id": request_id}


def _job(document: dict[str, Any]) -> Job:
    return Job(
        request_id=document["request_id"],
        pipeline=document["pipeline"],
        location=document["location"],
        options=document["options"],
        callback_url=document.get("callback_url"),
        status=JobStatus(document["status"]),
        attempts=document["attempts"],
        created_at=document["created_at"],
        started_at=document.get("started_at"),
        finished_at=document.get("finished_at"),
        result=document.get("result"),
        error_code=document.get("error_code"),
        error_message=document.get("error_message"),
        callback_state=document.get("callback_state"),
        owner=document.get("owner") or None,
        trace_parent=document.get("trace_parent"),
        pages_total=document.get("pages_total"),
        pages_done=document.get("pages_done", 0),
    )


class MongoJobs:
    """The ``jobs`` collection of one database: a ``JobStore`` and a ``JobQueue``."""

    def __init__(self, url: str, database: str, max_queue: int, retention_s: float,
                 clock: Callable[[], float] = time.time):
        self.max_queue = max_queue
        self.retention_s = retention_s
        self._clock = clock  # tests move time by hand; expires_at stays on the wall clock (the TTL monitor's)
        self._client: AsyncMongoClient = AsyncMongoClient(url, tz_aware=True)
        self._jobs = self._client[database][COLLECTION]
        self._indexed: asyncio.Lock | None = None
        self._ready = False
        self._enqueued = asyncio.Event()  # a job was queued by this process: idle claimers wake

    async def _collection(self):
        """The collection, its indexes created on first use (idempotent on every process)."""
        if not self._ready:
            self._indexed = self._indexed or asyncio.Lock()
            async with self._indexed:
                if not self._ready:
                    await self._scope_ids_by_owner()
                    await self._jobs.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0,
                                                  name="retention")
                    await self._jobs.create_index([("status", ASCENDING), ("available_at", ASCENDING)],
                                                  name="claimable")
                    self._ready = True
        return self._jobs

    async def _scope_ids_by_owner(self) -> None:
        """The ``(owner, request_id)`` key, migrating a collection keyed by ``request_id`` alone:
        null owners become ``""`` (under the old unique index, so nothing can collide), the new
        unique index is built, and only then the old one goes (the ids were unique all along)."""
        await self._jobs.update_many({"owner": None}, {"$set": {"owner": ""}})
        await self._jobs.create_index([("owner", ASCENDING), ("request_id", ASCENDING)], unique=True,
                                      name="owner_request_id")
        for name, index in (await self._jobs.index_information()).items():
            if index.get("unique") and [field for field, _ in index["key"]] == ["request_id"]:
                with contextlib.suppress(OperationFailure):  # another process dropped it first
                    await self._jobs.drop_index(name)
        await self._jobs.create_index([("request_id", ASCENDING), ("created_at", ASCENDING)],
                                      name="by_request_id")

    async def close(self) -> None:
        await self._client.close()

    def _expiry(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.retention_s, UTC)

    def _new_document(self, request: JobRequest, now: float) -> dict[str, Any]:
        return {
            "request_id": request.request_id, "fingerprint": request.fingerprint(),
            "pipeline": request.pipeline, "location": request.location, "options": request.options,
            "callback_url": request.callback_url, "status": JobStatus.QUEUED.value, "attempts": 0,
            "created_at": now, "started_at": None, "finished_at": None, "available_at": now,
            **_LEASE_FIELDS, "result": None, "error_code": None, "error_message": None,
            "callback_state": "pending" if request.callback_url else None, "owner": _stored(request.owner),
            "trace_parent": request.trace_parent, "pages_total": None, "pages_done": 0, "partial": {},
        }

    # -- the store -------------------------------------------------------------------------------
    async def submit(self, request: JobRequest) -> tuple[Job, bool]:
        jobs = await self._collection()
        existing = await jobs.find_one(_key(request.request_id, request.owner))
        if existing is None:
            now = self._clock()
            queued = await jobs.count_documents({"status": JobStatus.QUEUED.value})
            if queued >= self.max_queue:
                raise QueueFullError(
                    f"{queued} jobs are queued (DOCSERVE_MAX_QUEUE); retry later",
                    retry_after_s=await self._seconds_to_room(queued - self.max_queue + 1, now),
                )
            document = self._new_document(request, now)
            try:
                await jobs.insert_one(document)
            except DuplicateKeyError:  # a racing submission of the same id won
                existing = await jobs.find_one(_key(request.request_id, request.owner))
            else:
                return _job(document), True
        _check_fingerprint(existing, request)
        return _job(existing), False

    async def _seconds_to_room(self, jobs: int, now: float) -> int:
        finished = await self._jobs.count_documents({"finished_at": {"$gt": now - PACE_WINDOW_S}})
        if not finished:
            return int(PACE_WINDOW_S)
        return max(1, min(int(PACE_WINDOW_S), math.ceil(jobs * PACE_WINDOW_S / finished)))

    async def get(self, request_id: str, owner: str | None = None) -> Job:
        document = await (await self._collection()).find_one(_key(request_id, owner))
        if document is None:
            raise NotFoundError(f"no job with request_id {request_id!r}")
        return _job(document)

    async def list(self, status: JobStatus | None, limit: int, owner: OwnerScope = EVERY_OWNER) -> list[Job]:
        query: dict[str, Any] = {}
        if status is not None:
            query["status"] = status.value
        if owner is not EVERY_OWNER:
            query["owner"] = _stored(owner)
        cursor = (await self._collection()).find(query).sort("created_at", DESCENDING).limit(limit)
        return [_job(document) async for document in cursor]

    async def counts(self, owner: OwnerScope = EVERY_OWNER) -> dict[str, int]:
        match = {} if owner is EVERY_OWNER else {"owner": _stored(owner)}
        cursor = await (await self._collection()).aggregate(
            [{"$match": match}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}])
        return {group["_id"]: group["n"] async for group in cursor}

    async def oldest_queued_age_s(self) -> float | None:
        oldest = await (await self._collection()).find_one(
            {"status": JobStatus.QUEUED.value}, sort=[("created_at", ASCENDING)])
        return None if oldest is None else self._clock() - oldest["created_at"]

    async def cancel(self, request_id: str, owner: str | None = None) -> Job:
        document = await (await self._collection()).find_one_and_update(
            {**_key(request_id, owner), "status": JobStatus.QUEUED.value},
            {"$set": {"status": JobStatus.CANCELLED.value, "finished_at": self._clock(),
                      "callback_state": None, "expires_at": self._expiry()}},
            return_document=ReturnDocument.AFTER,
        )
        if document is not None:
            return _job(document)
        job = await self.get(request_id, owner)
        raise ConflictError(f"job {request_id!r} is {job.status.value}; only queued jobs can be cancelled")

    async def partial_pages(self, request_id: str, owner: str | None = None) -> list[dict[str, Any]]:
        document = await (await self._collection()).find_one(_key(request_id, owner), {"partial": 1})
        if document is None:
            raise NotFoundError(f"no job with request_id {request_id!r}")
        pages = (document.get("partial") or {}).values()
        return sorted(pages, key=lambda page: int(page["page"]))

    async def set_callback_state(self, request_id: str, state: CallbackState,
                                 owner: str | None = None) -> None:
        await (await self._collection()).update_one(_key(request_id, owner),
                                                    {"$set": {"callback_state": state}})

    async def pending_callbacks(self, limit: int = 100) -> list[Job]:
        cursor = (await self._collection()).find(
            {"callback_state": "pending",
             "status": {"$in": [JobStatus.SUCCEEDED.value, JobStatus.FAILED.value]}}).limit(limit)
        return [_job(document) async for document in cursor]

    async def legacy_owner(self, request_id: str) -> str | None:
        oldest = await (await self._collection()).find_one({"request_id": request_id},
                                                           sort=[("created_at", ASCENDING)])
        return (oldest["owner"] or None) if oldest else None

    async def start_attempt(self, request: JobRequest, worker_id: str, lease_s: float) -> AttemptStart:
        jobs = await self._collection()
        now = self._clock()
        key = _key(request.request_id, request.owner)
        with contextlib.suppress(DuplicateKeyError):  # two workers upserted at once: the other inserted it
            await jobs.update_one(key, {"$setOnInsert": self._new_document(request, now)}, upsert=True)
        existing = await jobs.find_one(key)
        _check_fingerprint(existing, request)
        started = await self._lease(key, worker_id, lease_s, now)
        if started is not None:
            return AttemptStart(started, started=True)
        document = await jobs.find_one(key)
        job = _job(document)
        if job.status.final:
            return AttemptStart(job, started=False)
        not_before = document["available_at" if job.status == JobStatus.QUEUED else "lease_expires_at"]
        return AttemptStart(job, started=False, not_before=not_before)

    # -- the queue -------------------------------------------------------------------------------
    async def enqueue(self, job: Job) -> None:
        """The document is already the message: only wake this process's idle claimers."""
        self._enqueued.set()

    async def claim(self, worker_id: str, lease_s: float, wait_s: float) -> Job | None:
        return await claim_or_wait(lambda: self._lease({}, worker_id, lease_s, self._clock()),
                                   self._enqueued, wait_s)

    async def _lease(self, query: dict[str, Any], worker_id: str, lease_s: float, now: float) -> Job | None:
        """Lease the oldest runnable job matching ``query`` (queued and due, or abandoned)."""
        jobs = await self._collection()
        runnable = {"$or": [
            {"status": JobStatus.QUEUED.value, "available_at": {"$lte": now}},
            {"status": JobStatus.PROCESSING.value, "lease_expires_at": {"$lt": now}},
        ]}
        document = await jobs.find_one_and_update(
            {**query, **runnable},
            {"$set": {"status": JobStatus.PROCESSING.value, "lease_owner": worker_id,
                      "lease_expires_at": now + lease_s},
             "$inc": {"attempts": 1}},
            sort=[("available_at", ASCENDING)], return_document=ReturnDocument.AFTER,
        )
        if document is None:
            return None
        if document.get("started_at") is None:  # the first claim starts the job
            await jobs.update_one({**_key(document["request_id"], document["owner"]), "started_at": None},
                                  {"$set": {"started_at": now}})
            document["started_at"] = now
        return _job(document)

    def _held(self, job: Job, worker_id: str) -> dict[str, Any]:
        return {**_key(job.request_id, job.owner), "lease_owner": worker_id,
                "status": JobStatus.PROCESSING.value}

    async def extend_lease(self, job: Job, worker_id: str, lease_s: float) -> bool:
        outcome = await (await self._collection()).update_one(
            self._held(job, worker_id), {"$set": {"lease_expires_at": self._clock() + lease_s}})
        return outcome.matched_count == 1

    async def start_pages(self, job: Job, worker_id: str, pages_total: int) -> bool:
        outcome = await (await self._collection()).update_one(
            self._held(job, worker_id),
            {"$set": {"pages_total": pages_total, "pages_done": 0, "partial": {}}})
        return outcome.matched_count == 1

    async def record_page(self, job: Job, worker_id: str, page: dict[str, Any]) -> bool:
        """The page under ``partial.p<n>`` (a page number again replaces it), then ``pages_done``
        its count: both writes are the lease holder's alone."""
        jobs = await self._collection()
        document = await jobs.find_one_and_update(
            self._held(job, worker_id), {"$set": {f"partial.p{int(page['page'])}": page}},
            projection={"partial": 1}, return_document=ReturnDocument.AFTER)
        if document is None:
            return False
        outcome = await jobs.update_one(self._held(job, worker_id),
                                        {"$set": {"pages_done": len(document["partial"])}})
        return outcome.matched_count == 1

    async def succeed(self, job: Job, worker_id: str, result: dict[str, Any]) -> bool:
        return await self._finish(job, worker_id, {"status": JobStatus.SUCCEEDED.value, "result": result,
                                                   "partial": {}})

    async def fail(self, job: Job, worker_id: str, code: str, message: str) -> bool:
        return await self._finish(job, worker_id, {"status": JobStatus.FAILED.value, "error_code": code,
                                                   "error_message": message})

    async def retry_later(self, job: Job, worker_id: str, code: str, message: str, delay_s: float) -> bool:
        outcome = await (await self._collection()).update_one(
            self._held(job, worker_id),
            {"$set": {"status": JobStatus.QUEUED.value, "available_at": self._clock() + delay_s,
                      **_LEASE_FIELDS, "error_code": code, "error_message": message}})
        return outcome.matched_count == 1

    async def release(self, job: Job, worker_id: str) -> bool:
        outcome = await (await self._collection()).update_one(
            self._held(job, worker_id),
            {"$set": {"status": JobStatus.QUEUED.value, "available_at": self._clock(), **_LEASE_FIELDS},
             "$inc": {"attempts": -1}})
        return outcome.matched_count == 1

    async def _finish(self, job: Job, worker_id: str, outcome: dict[str, Any]) -> bool:
        written = await (await self._collection()).update_one(
            self._held(job, worker_id),
            {"$set": {**outcome, "finished_at": self._clock(), **_LEASE_FIELDS,
                      "expires_at": self._expiry()}})
        return written.matched_count == 1


def _check_fingerprint(existing: dict[str, Any], request: JobRequest) -> None:
    if existing["fingerprint"] != request.fingerprint():
        raise ConflictError(
            f"request_id {request.request_id!r} was already used for a different job "
            "(pipeline, location, options or callback_url differ)"
        )
