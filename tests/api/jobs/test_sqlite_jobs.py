"""What only the SQLite job backend promises: several processes sharing one file (no Triton needed).

Everything every backend promises is in ``test_job_backends.py``.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from docserve.api.jobs.records import JobRequest
from docserve.api.jobs.sqlite_jobs import SqliteJobs
from docserve.contract.jobs import JobStatus


def _request(request_id):
    return JobRequest(request_id=request_id, pipeline="p", location="file:///x")


def test_two_stores_on_one_file_never_claim_the_same_job(tmp_path):
    """Two worker processes share the file; SQLite's write lock serializes the claims."""

    async def scenario():
        path = tmp_path / "jobs.sqlite3"
        one, two = SqliteJobs(path, max_queue=100), SqliteJobs(path, max_queue=100)
        for index in range(20):
            await one.submit(_request(f"j{index}"))
        claimed = []
        for _ in range(10):
            claimed += [(await one.claim("w1", lease_s=60, wait_s=0)).request_id,
                        (await two.claim("w2", lease_s=60, wait_s=0)).request_id]
        assert sorted(claimed) == sorted(f"j{index}" for index in range(20))
        assert await one.claim("w1", lease_s=60, wait_s=0) is None
        await one.close()
        await two.close()

    asyncio.run(scenario())


def test_a_job_queued_by_another_process_is_claimed_at_the_next_poll(tmp_path):
    """``enqueue`` wakes only this process's claimers; the file itself is what other processes share."""

    async def scenario():
        path = tmp_path / "jobs.sqlite3"
        gateway, worker = SqliteJobs(path, max_queue=100), SqliteJobs(path, max_queue=100)
        await gateway.submit(_request("elsewhere"))  # no enqueue reaches the worker's process
        job = await worker.claim("w", lease_s=60, wait_s=0)
        assert job is not None and job.request_id == "elsewhere"
        await gateway.close()
        await worker.close()

    asyncio.run(scenario())


# The jobs table as earlier versions created it: keyed by request_id alone. The first release had
# none of the columns added later (owner, trace_parent, pages_total, pages_done) nor job_pages.
PREVIOUS_SCHEMA = """
CREATE TABLE jobs (
    request_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, pipeline TEXT NOT NULL, location TEXT NOT NULL,
    options_json TEXT NOT NULL, callback_url TEXT, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL, started_at REAL, finished_at REAL, available_at REAL NOT NULL, lease_owner TEXT,
    lease_expires_at REAL, result_json TEXT, error_code TEXT, error_message TEXT, callback_state TEXT{added}
);
CREATE INDEX jobs_claimable ON jobs (status, available_at);
"""
ADDED = ", owner TEXT, trace_parent TEXT, pages_total INTEGER, pages_done INTEGER NOT NULL DEFAULT 0"
PAGES = """CREATE TABLE job_pages (request_id TEXT NOT NULL, page INTEGER NOT NULL, result_json TEXT NOT NULL,
                                   PRIMARY KEY (request_id, page));"""


@pytest.mark.parametrize("version", ["first-release", "previous"])
def test_a_database_keyed_by_request_id_alone_opens_and_keeps_every_job(tmp_path, version):
    path = tmp_path / "jobs.sqlite3"
    old = sqlite3.connect(path)
    columns = "request_id, fingerprint, pipeline, location, options_json, status, created_at, available_at"
    if version == "previous":
        old.executescript(PREVIOUS_SCHEMA.format(added=ADDED) + PAGES)
        old.execute(f"INSERT INTO jobs ({columns}, owner, lease_owner, lease_expires_at, pages_total)"
                    " VALUES ('alice-1', ?, 'p', 'file:///x', '{}', 'processing', 1, 1, 'alice', 'w', 1e12,"
                    " 2)", (_request("alice-1").fingerprint(),))
        old.execute("INSERT INTO job_pages VALUES ('alice-1', 1, '{\"page\": 1}')")
    else:
        old.executescript(PREVIOUS_SCHEMA.format(added=""))
    old.execute(f"INSERT INTO jobs ({columns})"
                " VALUES ('open-1', ?, 'p', 'file:///x', '{}', 'queued', 2, 2)",
                (_request("open-1").fingerprint(),))
    old.commit()
    old.close()

    async def scenario() -> None:
        jobs = SqliteJobs(path, max_queue=10)
        second = SqliteJobs(path, max_queue=10)  # another process opening the migrated file: nothing to do
        assert (await jobs.get("open-1")).owner is None  # the anonymous owner's, as before
        if version == "previous":
            kept = await jobs.get("alice-1", "alice")
            assert (kept.status, kept.pages_total) == (JobStatus.PROCESSING, 2)
            assert await jobs.partial_pages("alice-1", "alice") == [{"page": 1}]
            assert await jobs.legacy_owner("alice-1") == "alice"
            assert await jobs.record_page(kept, "w", {"page": 2})  # its running attempt goes on
        _, created = await second.submit(JobRequest("alice-1", "p", "file:///bob", owner="bob"))
        assert created  # the id is bob's too now
        claimed = await jobs.claim("w2", lease_s=10, wait_s=0)
        assert (claimed.request_id, claimed.owner) == ("open-1", None)
        await jobs.close()
        await second.close()

    asyncio.run(scenario())
