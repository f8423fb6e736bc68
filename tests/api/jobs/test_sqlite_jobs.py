"""What only the SQLite job backend promises: several processes sharing one file (no Triton needed).

Everything every backend promises is in ``test_job_backends.py``.
"""

from __future__ import annotations

import asyncio

from docserve.api.jobs.records import JobRequest
from docserve.api.jobs.sqlite_jobs import SqliteJobs


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
