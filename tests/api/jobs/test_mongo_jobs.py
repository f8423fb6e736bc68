"""What the MongoDB store adds to the shared contract: its indexes and retention (real nx-27017)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime

import pytest
from pymongo import ASCENDING, AsyncMongoClient

from docserve.api.jobs.mongo_jobs import COLLECTION, MongoJobs
from docserve.api.jobs.records import JobRequest
from docserve.contract.errors import NotFoundError
from docserve.contract.jobs import JobStatus

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_owner_and_request_id_are_unique_and_finished_jobs_expire_by_the_ttl_index(mongo_url):
    database = f"t{uuid.uuid4().hex[:12]}"
    jobs = MongoJobs(mongo_url, database, max_queue=10, retention_s=3600)
    raw = AsyncMongoClient(mongo_url, tz_aware=True)[database][COLLECTION]
    try:
        await jobs.submit(JobRequest("r1", "p", "file:///x"))
        await jobs.submit(JobRequest("r2", "p", "file:///x"))
        indexes = {tuple(index["key"]): index for index in (await raw.index_information()).values()}
        assert indexes[(("owner", 1), ("request_id", 1))]["unique"] is True  # (nx-27017 names them its way)
        assert not indexes[(("request_id", 1), ("created_at", 1))].get("unique")
        assert indexes[(("expires_at", 1),)]["expireAfterSeconds"] == 0
        job = await jobs.claim("w", lease_s=10, wait_s=0)
        assert await jobs.succeed(job, "w", {})
        finished = await raw.find_one({"request_id": job.request_id})
        waiting = await raw.find_one({"request_id": "r2"})
        assert _seconds(finished["expires_at"]) == pytest.approx(time.time() + 3600, abs=30)
        assert "expires_at" not in waiting  # queued jobs never expire
    finally:
        await jobs.close()
        await raw.database.client.close()


async def test_the_ttl_index_removes_a_finished_job_after_the_retention(mongo_url):
    jobs = MongoJobs(mongo_url, f"t{uuid.uuid4().hex[:12]}", max_queue=10, retention_s=1)
    try:
        await jobs.submit(JobRequest("short-lived", "p", "file:///x"))
        await jobs.submit(JobRequest("still-queued", "p", "file:///x"))
        job = await jobs.claim("w", lease_s=10, wait_s=0)
        assert await jobs.fail(job, "w", "invalid_document", "no")
        deadline = time.monotonic() + 60  # the server's TTL monitor runs on its own schedule
        while time.monotonic() < deadline:
            try:
                await jobs.get("short-lived")
            except NotFoundError:
                break
            await asyncio.sleep(0.5)
        else:
            pytest.fail("the finished job outlived its retention")
        assert (await jobs.get("still-queued")).status.value == "queued"
    finally:
        await jobs.close()


async def test_a_collection_keyed_by_request_id_alone_is_migrated_and_keeps_every_job(mongo_url):
    """What the previous version left: a unique index on request_id, anonymous jobs with a null owner."""
    database = f"t{uuid.uuid4().hex[:12]}"
    raw = AsyncMongoClient(mongo_url, tz_aware=True)[database][COLLECTION]
    await raw.create_index([("request_id", ASCENDING)], unique=True, name="request_id")
    for request_id, owner in (("alice-1", "alice"), ("open-1", None)):
        await raw.insert_one({
            "request_id": request_id, "fingerprint": JobRequest(request_id, "p", "file:///x").fingerprint(),
            "pipeline": "p", "location": "file:///x", "options": {}, "callback_url": None, "status": "queued",
            "attempts": 0, "created_at": 1.0, "started_at": None, "finished_at": None, "available_at": 1.0,
            "lease_owner": None, "lease_expires_at": None, "result": None, "error_code": None,
            "error_message": None, "callback_state": None, "owner": owner, "trace_parent": None,
            "pages_total": None, "pages_done": 0, "partial": {}})
    jobs = MongoJobs(mongo_url, database, max_queue=10, retention_s=3600)
    try:
        assert (await jobs.get("alice-1", "alice")).owner == "alice"
        assert (await jobs.get("open-1")).owner is None
        with pytest.raises(NotFoundError):
            await jobs.get("alice-1", "bob")
        _, created = await jobs.submit(JobRequest("alice-1", "p", "file:///bob", owner="bob"))
        assert created and (await jobs.get("alice-1", "alice")).location == "file:///x"
        assert await jobs.legacy_owner("alice-1") == "alice"
        claimed = {(await jobs.claim("w", lease_s=10, wait_s=0)).owner for _ in range(3)}
        assert claimed == {"alice", None, "bob"}
        assert (await jobs.get("open-1")).status == JobStatus.PROCESSING
    finally:
        await jobs.close()
        await raw.database.client.close()


def _seconds(stamp: datetime | str) -> float:
    """A BSON date as read back (nx-27017 returns it as ISO text, MongoDB as a datetime)."""
    return (datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp).timestamp()
