"""The SQLite job store's guarantees, on its own (no Triton needed)."""

from __future__ import annotations

import pytest

from docserve.api.jobs.store import JobRequest, JobStore
from docserve.contract.errors import ConflictError, QueueFullError
from docserve.contract.jobs import JobStatus


@pytest.fixture
def store(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3", max_queue=10)
    yield store
    store.close()


def _request(request_id="r1", **changes):
    return JobRequest(**{"request_id": request_id, "pipeline": "p", "location": "file:///x", **changes})


def test_submit_is_idempotent_and_conflicts_on_a_different_body(store):
    job, created = store.submit(_request())
    again, created_again = store.submit(_request())
    assert created and not created_again and again == job
    with pytest.raises(ConflictError):
        store.submit(_request(location="file:///y"))
    with pytest.raises(ConflictError):
        store.submit(_request(options={"pages": [1]}))


def test_a_worker_that_lost_its_lease_cannot_store_an_outcome(store):
    store.submit(_request(), now=0)
    first = store.claim("w1", lease_s=10, now=1)
    assert store.claim("w2", lease_s=10, now=5) is None  # leased
    second = store.claim("w2", lease_s=10, now=12)  # w1's lease ran out
    assert second.request_id == first.request_id and second.attempts == 2
    assert not store.succeed(first, "w1", {"from": "w1"})
    assert not store.extend_lease(first, "w1", 10)
    assert store.succeed(second, "w2", {"from": "w2"})
    done = store.get("r1")
    assert done.status == JobStatus.SUCCEEDED and done.result == {"from": "w2"}


def test_retry_later_waits_for_its_time(store):
    store.submit(_request(), now=0)
    job = store.claim("w1", lease_s=10)
    assert store.retry_later(job, "w1", "triton_unavailable", "down", delay_s=60)
    assert store.claim("w1", lease_s=10) is None
    queued = store.get("r1")
    assert queued.status == JobStatus.QUEUED and queued.error_code == "triton_unavailable"


def test_claims_are_oldest_first_and_the_queue_is_bounded(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3", max_queue=2)
    store.submit(_request("a"), now=1)
    store.submit(_request("b"), now=2)
    with pytest.raises(QueueFullError):
        store.submit(_request("c"), now=3)
    assert store.claim("w", lease_s=5, now=10).request_id == "a"
    store.submit(_request("c"), now=11)  # one left the queue: room again
    assert store.counts() == {"processing": 1, "queued": 2}


def test_two_stores_on_one_file_never_claim_the_same_job(tmp_path):
    """Two worker processes share the file; SQLite's write lock serializes the claims."""
    path = tmp_path / "jobs.sqlite3"
    one, two = JobStore(path, max_queue=100), JobStore(path, max_queue=100)
    for index in range(20):
        one.submit(_request(f"j{index}"))
    claimed = []
    for _ in range(10):
        claimed += [one.claim("w1", lease_s=60).request_id, two.claim("w2", lease_s=60).request_id]
    assert sorted(claimed) == sorted(f"j{index}" for index in range(20))
    assert one.claim("w1", lease_s=60) is None
