"""The JobStore/JobQueue contract, run against every job backend (no Triton needed).

Each backend is built by a factory below from a folder and a clock (the tests move time by
hand: leases, retry delays); a new backend adds its factory to ``BACKENDS`` and must pass
every test here unchanged. ``mongodb`` runs against a real MongoDB wire-protocol server
(nx-27017, started once per session by ``mongo_url``), one fresh database per test. The Kafka
queue delivers through a broker's consumer group, not claims: it is tested end to end in
tests/api/scale_out/, on ``start_attempt`` tested here.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from docserve.api.jobs.mongo_jobs import MongoJobs
from docserve.api.jobs.protocols import JobQueue, JobStore
from docserve.api.jobs.records import JobRequest
from docserve.api.jobs.sqlite_jobs import SqliteJobs
from docserve.contract.errors import ConflictError, NotFoundError, QueueFullError
from docserve.contract.jobs import JobStatus

pytestmark = pytest.mark.anyio
MAX_QUEUE = 3


class ManualClock:
    def __init__(self, now: float = 1_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Backend:
    store: JobStore
    queue: JobQueue
    clock: ManualClock


def sqlite_backend(folder: Path, clock: ManualClock, request: pytest.FixtureRequest) -> Backend:
    jobs = SqliteJobs(folder / "jobs.sqlite3", max_queue=MAX_QUEUE, clock=clock)
    return Backend(store=jobs, queue=jobs, clock=clock)


def mongodb_backend(folder: Path, clock: ManualClock, request: pytest.FixtureRequest) -> Backend:
    url = request.getfixturevalue("mongo_url")
    jobs = MongoJobs(url, database=f"t{uuid.uuid4().hex[:12]}", max_queue=MAX_QUEUE, retention_s=3600,
                     clock=clock)
    return Backend(store=jobs, queue=jobs, clock=clock)


BACKENDS: dict[str, Callable[[Path, ManualClock, pytest.FixtureRequest], Backend]] = {
    "sqlite": sqlite_backend, "mongodb": mongodb_backend,
}


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request, tmp_path) -> AsyncIterator[Backend]:
    built = BACKENDS[request.param](tmp_path, ManualClock(), request)
    yield built
    await built.queue.close()
    await built.store.close()


def _request(request_id="r1", **changes):
    return JobRequest(**{"request_id": request_id, "pipeline": "p", "location": "file:///x", **changes})


async def _queued(backend: Backend, request_id: str, **changes):
    job, created = await backend.store.submit(_request(request_id, **changes))
    assert created
    await backend.queue.enqueue(job)
    return job


async def test_backends_implement_both_protocols(backend):
    assert isinstance(backend.store, JobStore) and isinstance(backend.queue, JobQueue)


# -- submissions -----------------------------------------------------------------------------------


async def test_submit_is_idempotent_and_conflicts_on_a_different_body(backend):
    store = backend.store
    job, created = await store.submit(_request())
    again, created_again = await store.submit(_request())
    assert created and not created_again and again == job
    with pytest.raises(ConflictError):
        await store.submit(_request(location="file:///y"))
    with pytest.raises(ConflictError):
        await store.submit(_request(options={"pages": [1]}))


async def test_request_ids_are_scoped_per_owner(backend):
    """bob's "alice-1" is another job than alice's: no conflict, and neither sees the other's."""
    store = backend.store
    alice, created_alice = await store.submit(_request("alice-1", owner="alice"))
    bob, created_bob = await store.submit(_request("alice-1", owner="bob", location="file:///bob"))
    assert created_alice and created_bob
    assert (alice.owner, alice.location, bob.owner, bob.location) == ("alice", "file:///x", "bob", "file:///bob")
    assert await store.get("alice-1", "alice") == alice and await store.get("alice-1", "bob") == bob
    with pytest.raises(NotFoundError):
        await store.get("alice-1")  # the anonymous owner has none
    assert await store.submit(_request("alice-1", owner="bob", location="file:///bob")) == (bob, False)
    with pytest.raises(ConflictError, match="different job"):  # idempotency stays, per owner
        await store.submit(_request("alice-1", owner="bob"))
    assert (await store.cancel("alice-1", "bob")).status == JobStatus.CANCELLED
    assert await store.get("alice-1", "alice") == alice  # bob's cancel left alice's job alone
    with pytest.raises(NotFoundError):
        await store.cancel("alice-1", "carol")
    with pytest.raises(NotFoundError):
        await store.partial_pages("alice-1", "carol")
    assert await store.counts("alice") == {"queued": 1} and await store.counts("bob") == {"cancelled": 1}
    assert [job.owner for job in await store.list(None, 10, owner="alice")] == ["alice"]
    assert await store.list(None, 10, owner=None) == [] and await store.counts(None) == {}


async def test_two_owners_jobs_of_one_id_run_and_settle_apart(backend):
    clock, store, queue = backend.clock, backend.store, backend.queue
    await _queued(backend, "same", owner="alice", callback_url="https://example.com/a")
    clock.advance(1)
    await _queued(backend, "same", owner="bob", location="file:///bob", callback_url="https://example.com/b")
    first = await queue.claim("w1", lease_s=10, wait_s=0)
    second = await queue.claim("w2", lease_s=10, wait_s=0)
    assert (first.owner, second.owner) == ("alice", "bob")  # the second is not "leased" by the first
    assert await queue.start_pages(first, "w1", 2) and await queue.start_pages(second, "w2", 1)
    assert not await queue.record_page(second, "w1", _page(1))  # w1 holds alice's lease, not bob's
    assert await queue.record_page(first, "w1", _page(1, "alice"))
    assert await queue.record_page(second, "w2", _page(1, "bob"))
    assert await store.partial_pages("same", "alice") == [_page(1, "alice")]
    assert await store.partial_pages("same", "bob") == [_page(1, "bob")]
    assert await queue.succeed(second, "w2", {"by": "bob"})
    assert await queue.extend_lease(first, "w1", 10)  # bob's outcome did not end alice's attempt
    assert (await store.get("same", "alice")).status == JobStatus.PROCESSING
    assert await queue.retry_later(first, "w1", "triton_unavailable", "down", delay_s=5)
    assert (await store.get("same", "bob")).result == {"by": "bob"}
    assert [job.owner for job in await store.pending_callbacks()] == ["bob"]
    await store.set_callback_state("same", "delivered", "bob")
    assert (await store.get("same", "alice")).callback_state == "pending"
    assert (await store.get("same", "bob")).callback_state == "delivered"


async def test_racing_submissions_of_one_id_create_one_job(backend):
    outcomes = await asyncio.gather(*(backend.store.submit(_request()) for _ in range(8)))
    assert sum(created for _, created in outcomes) == 1
    assert all(job == outcomes[0][0] for job, _ in outcomes)


async def test_a_new_job_is_queued_with_no_attempt_yet(backend):
    job, _ = await backend.store.submit(_request(callback_url="https://example.com/hook", trace_parent="tp"))
    assert (job.status, job.attempts, job.created_at) == (JobStatus.QUEUED, 0, backend.clock.now)
    assert (job.started_at, job.finished_at, job.result, job.error_code) == (None, None, None, None)
    assert (job.callback_state, job.trace_parent) == ("pending", "tp")
    assert (await backend.store.submit(_request("no-callback")))[0].callback_state is None
    assert await backend.store.get("r1") == job


async def test_an_unknown_id_is_not_found(backend):
    with pytest.raises(NotFoundError):
        await backend.store.get("nope")
    with pytest.raises(NotFoundError):
        await backend.store.cancel("nope")


async def test_the_queue_is_bounded_and_says_when_to_retry(backend):
    for index in range(MAX_QUEUE):
        await _queued(backend, f"q{index}")
    with pytest.raises(QueueFullError) as full:
        await backend.store.submit(_request("one-too-many"))
    assert 1 <= full.value.retry_after_s <= 60
    with pytest.raises(NotFoundError):
        await backend.store.get("one-too-many")


# -- claims, leases and outcomes -----------------------------------------------------------------


async def test_claims_are_oldest_first_and_the_queue_is_bounded(backend):
    clock, store, queue = backend.clock, backend.store, backend.queue
    await _queued(backend, "a")
    clock.advance(1)
    await _queued(backend, "b")
    clock.advance(1)
    await _queued(backend, "c")
    with pytest.raises(QueueFullError):
        await store.submit(_request("d"))
    clock.advance(10)
    assert (await queue.claim("w", lease_s=5, wait_s=0)).request_id == "a"
    await _queued(backend, "d")  # one left the queue: room again
    assert await store.counts() == {"processing": 1, "queued": 3}


async def test_a_claim_counts_an_attempt_and_starts_the_job(backend):
    await _queued(backend, "r1")
    backend.clock.advance(2)
    job = await backend.queue.claim("w1", lease_s=10, wait_s=0)
    assert (job.request_id, job.status, job.attempts, job.started_at) == (
        "r1", JobStatus.PROCESSING, 1, backend.clock.now)
    assert await backend.store.get("r1") == job


async def test_a_worker_that_lost_its_lease_cannot_store_an_outcome(backend):
    clock, queue = backend.clock, backend.queue
    await _queued(backend, "r1")
    first = await queue.claim("w1", lease_s=10, wait_s=0)
    clock.advance(4)
    assert await queue.claim("w2", lease_s=10, wait_s=0) is None  # leased
    clock.advance(7)
    second = await queue.claim("w2", lease_s=10, wait_s=0)  # w1's lease ran out: redelivered
    assert second.request_id == first.request_id and second.attempts == 2
    assert second.started_at == first.started_at  # started at the first claim
    assert not await queue.succeed(first, "w1", {"from": "w1"})
    assert not await queue.extend_lease(first, "w1", 10)
    assert await queue.succeed(second, "w2", {"from": "w2"})
    done = await backend.store.get("r1")
    assert done.status == JobStatus.SUCCEEDED and done.result == {"from": "w2"}
    assert done.finished_at == clock.now


async def test_a_kept_lease_keeps_the_job(backend):
    clock, queue = backend.clock, backend.queue
    await _queued(backend, "r1")
    job = await queue.claim("w1", lease_s=10, wait_s=0)
    for _ in range(3):
        clock.advance(8)
        assert await queue.extend_lease(job, "w1", 10)
        assert await queue.claim("w2", lease_s=10, wait_s=0) is None


async def test_the_first_stored_outcome_wins(backend):
    queue = backend.queue
    await _queued(backend, "r1")
    job = await queue.claim("w1", lease_s=10, wait_s=0)
    assert await queue.fail(job, "w1", "invalid_document", "not a page")
    assert not await queue.succeed(job, "w1", {"late": True})
    assert not await queue.retry_later(job, "w1", "triton_unavailable", "down", delay_s=1)
    failed = await backend.store.get("r1")
    assert (failed.status, failed.error_code, failed.error_message, failed.result) == (
        JobStatus.FAILED, "invalid_document", "not a page", None)
    backend.clock.advance(3600)
    assert await queue.claim("w2", lease_s=10, wait_s=0) is None  # final: never delivered again


async def test_retry_later_waits_for_its_time(backend):
    clock, queue = backend.clock, backend.queue
    await _queued(backend, "r1")
    job = await queue.claim("w1", lease_s=10, wait_s=0)
    assert await queue.retry_later(job, "w1", "triton_unavailable", "down", delay_s=60)
    assert await queue.claim("w1", lease_s=10, wait_s=0) is None
    queued = await backend.store.get("r1")
    assert queued.status == JobStatus.QUEUED and queued.error_code == "triton_unavailable"
    clock.advance(61)
    again = await queue.claim("w2", lease_s=10, wait_s=0)
    assert again.request_id == "r1" and again.attempts == 2


async def test_a_released_job_is_claimable_at_once_and_its_attempt_not_counted(backend):
    queue = backend.queue
    await _queued(backend, "r1")
    job = await queue.claim("w1", lease_s=600, wait_s=0)
    assert not await queue.release(job, "w2")  # only the lease holder releases
    assert await queue.release(job, "w1")
    released = await backend.store.get("r1")
    assert (released.status, released.attempts, released.started_at) == (JobStatus.QUEUED, 0, job.started_at)
    again = await queue.claim("w2", lease_s=10, wait_s=0)  # now: no lease to run out first
    assert again.request_id == "r1" and again.attempts == 1
    assert not await queue.release(job, "w1")


async def test_claim_waits_for_an_enqueued_job_up_to_wait_s(backend):
    queue = backend.queue
    started = time.monotonic()
    assert await queue.claim("w", lease_s=10, wait_s=0.2) is None
    assert time.monotonic() - started >= 0.15
    waiting = asyncio.ensure_future(queue.claim("w", lease_s=10, wait_s=10))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await _queued(backend, "r1")
    job = await asyncio.wait_for(waiting, 5)
    assert job is not None and job.request_id == "r1"
    assert time.monotonic() - started < 2  # woken by the enqueue, not by the end of the wait


# -- progress, page by page ------------------------------------------------------------------------


def _page(number: int, text: str = "") -> dict:
    return {"page": number, "seconds": 0.1, "result": {"text": text}}


async def test_a_job_reports_its_pages_as_they_finish(backend):
    store, queue = backend.store, backend.queue
    queued = await _queued(backend, "r1")
    assert (queued.pages_total, queued.pages_done) == (None, 0)
    assert await store.partial_pages("r1") == []
    job = await queue.claim("w1", lease_s=10, wait_s=0)
    assert await queue.start_pages(job, "w1", 3)
    assert ((await store.get("r1")).pages_total, (await store.get("r1")).pages_done) == (3, 0)
    assert await queue.record_page(job, "w1", _page(3, "third"))  # pages finish in any order
    assert await queue.record_page(job, "w1", _page(1, "first"))
    assert await queue.record_page(job, "w1", _page(1, "first again"))  # the same page counts once
    running = await store.get("r1")
    assert (running.status, running.pages_total, running.pages_done) == (JobStatus.PROCESSING, 3, 2)
    assert await store.partial_pages("r1") == [_page(1, "first again"), _page(3, "third")]
    assert await queue.record_page(job, "w1", _page(2))
    assert await queue.succeed(job, "w1", {"pages": 3})
    done = await store.get("r1")
    assert (done.status, done.pages_total, done.pages_done) == (JobStatus.SUCCEEDED, 3, 3)
    assert await store.partial_pages("r1") == []  # the result holds every page now
    with pytest.raises(NotFoundError):
        await store.partial_pages("nope")


async def test_progress_needs_the_lease_and_a_new_attempt_starts_over(backend):
    clock, store, queue = backend.clock, backend.store, backend.queue
    await _queued(backend, "r1")
    first = await queue.claim("w1", lease_s=10, wait_s=0)
    assert await queue.start_pages(first, "w1", 2)
    assert await queue.record_page(first, "w1", _page(1, "w1"))
    clock.advance(11)
    second = await queue.claim("w2", lease_s=10, wait_s=0)  # w1's lease ran out
    assert not await queue.record_page(first, "w1", _page(2, "late"))
    assert not await queue.start_pages(first, "w1", 5)
    assert await store.partial_pages("r1") == [_page(1, "w1")]  # until the new attempt splits
    assert await queue.start_pages(second, "w2", 2)
    assert await store.partial_pages("r1") == []
    assert (await store.get("r1")).pages_done == 0
    assert await queue.record_page(second, "w2", _page(2, "w2"))
    assert await queue.fail(second, "w2", "invalid_document", "page 1: unreadable")
    failed = await store.get("r1")
    assert (failed.status, failed.pages_total, failed.pages_done) == (JobStatus.FAILED, 2, 1)
    assert await store.partial_pages("r1") == [_page(2, "w2")]  # what it did finish stays readable
    assert not await queue.record_page(second, "w2", _page(1))  # final: no more progress


# -- what clients read ------------------------------------------------------------------------------


async def test_only_a_queued_job_can_be_cancelled_and_it_is_never_claimed(backend):
    clock, store, queue = backend.clock, backend.store, backend.queue
    await _queued(backend, "waiting", callback_url="https://example.com/hook")
    cancelled = await store.cancel("waiting")
    assert (cancelled.status, cancelled.finished_at, cancelled.callback_state) == (
        JobStatus.CANCELLED, clock.now, None)
    assert await queue.claim("w", lease_s=10, wait_s=0) is None
    await _queued(backend, "running")
    await queue.claim("w", lease_s=10, wait_s=0)
    with pytest.raises(ConflictError, match="processing"):
        await store.cancel("running")
    with pytest.raises(ConflictError, match="cancelled"):
        await store.cancel("waiting")


async def test_listings_are_newest_first_and_filtered_by_status_and_owner(backend):
    clock, store = backend.clock, backend.store
    for request_id, owner in (("a1", "alice"), ("b1", "bob"), ("a2", "alice")):
        clock.advance(1)
        await _queued(backend, request_id, owner=owner)
    await backend.queue.claim("w", lease_s=10, wait_s=0)  # a1, the oldest
    assert [job.request_id for job in await store.list(None, 10)] == ["a2", "b1", "a1"]
    assert [job.request_id for job in await store.list(None, 2)] == ["a2", "b1"]
    assert [job.request_id for job in await store.list(JobStatus.QUEUED, 10)] == ["a2", "b1"]
    assert [job.request_id for job in await store.list(None, 10, owner="alice")] == ["a2", "a1"]
    assert await store.list(None, 10, owner=None) == []  # the anonymous owner's: none here
    assert await store.counts() == {"processing": 1, "queued": 2}
    assert await store.counts(owner="alice") == {"processing": 1, "queued": 1}
    assert await store.counts(owner="carol") == {}


async def test_the_oldest_queued_age(backend):
    clock, store = backend.clock, backend.store
    assert await store.oldest_queued_age_s() is None
    await _queued(backend, "old")
    clock.advance(5)
    await _queued(backend, "new")
    clock.advance(2)
    assert await store.oldest_queued_age_s() == pytest.approx(7)
    await backend.queue.claim("w", lease_s=10, wait_s=0)  # "old" is no longer queued
    assert await store.oldest_queued_age_s() == pytest.approx(2)


async def test_a_callback_is_pending_from_the_outcome_until_delivered(backend):
    store, queue = backend.store, backend.queue
    await _queued(backend, "hooked", callback_url="https://example.com/hook")
    await _queued(backend, "plain")
    assert await store.pending_callbacks() == []  # not finished yet
    for _ in range(2):
        job = await queue.claim("w", lease_s=10, wait_s=0)
        assert await queue.succeed(job, "w", {})
    assert [job.request_id for job in await store.pending_callbacks()] == ["hooked"]
    await store.set_callback_state("hooked", "delivered")
    assert await store.pending_callbacks() == []
    assert (await store.get("hooked")).callback_state == "delivered"


# -- attempts started from a delivered message (the Kafka queue) ----------------------------------


async def test_start_attempt_creates_the_record_of_a_request_sent_straight_to_the_topic(backend):
    started = await backend.store.start_attempt(_request("direct", callback_url="https://e.com/h"), "w1", 10)
    assert started.started and started.not_before is None
    job = started.job
    assert (job.request_id, job.status, job.attempts, job.started_at, job.owner) == (
        "direct", JobStatus.PROCESSING, 1, backend.clock.now, None)
    assert job.callback_state == "pending"
    assert await backend.store.get("direct") == job


async def test_start_attempt_leases_a_submitted_job_and_skips_a_final_one(backend):
    store, queue = backend.store, backend.queue
    await store.submit(_request("r1", owner="alice"))
    started = await store.start_attempt(_request("r1", owner="alice"), "w1", 10)  # it names its owner
    assert started.started and started.job.attempts == 1 and started.job.owner == "alice"
    assert await queue.succeed(started.job, "w1", {"done": 1})
    again = await store.start_attempt(_request("r1", owner="alice"), "w2", 10)  # redelivered after it
    assert not again.started and again.not_before is None
    assert (again.job.status, again.job.result, again.job.attempts) == (JobStatus.SUCCEEDED, {"done": 1}, 1)
    await store.submit(_request("gone"))
    await store.cancel("gone")
    cancelled = await store.start_attempt(_request("gone"), "w1", 10)
    assert not cancelled.started and cancelled.job.status == JobStatus.CANCELLED


async def test_start_attempt_waits_for_a_live_lease_or_a_retry_time(backend):
    clock, store, queue = backend.clock, backend.store, backend.queue
    first = await store.start_attempt(_request("r1"), "w1", 10)
    clock.advance(4)
    held = await store.start_attempt(_request("r1"), "w2", 10)
    assert not held.started and held.job.status == JobStatus.PROCESSING
    assert held.not_before == pytest.approx(first.job.started_at + 10)
    clock.advance(7)  # w1 died: its lease ran out
    taken = await store.start_attempt(_request("r1"), "w2", 10)
    assert taken.started and taken.job.attempts == 2
    assert not await queue.succeed(first.job, "w1", {"late": True})
    assert await queue.retry_later(taken.job, "w2", "triton_unavailable", "down", delay_s=30)
    early = await store.start_attempt(_request("r1"), "w2", 10)
    assert not early.started and early.not_before == pytest.approx(clock.now + 30)
    clock.advance(31)
    assert (await store.start_attempt(_request("r1"), "w2", 10)).job.attempts == 3


async def test_start_attempt_runs_the_job_of_the_message_s_owner(backend):
    store = backend.store
    await store.submit(_request("r1", owner="alice"))
    bobs = await store.start_attempt(_request("r1", owner="bob", location="file:///bob"), "w1", 10)
    assert bobs.started and (bobs.job.owner, bobs.job.location) == ("bob", "file:///bob")
    assert (await store.get("r1", "alice")).status == JobStatus.QUEUED


async def test_the_legacy_owner_of_a_request_id_is_its_oldest_job_s(backend):
    clock, store = backend.clock, backend.store
    assert await store.legacy_owner("r1") is None  # no job: the anonymous owner
    await store.submit(_request("r1", owner="alice"))
    clock.advance(1)
    await store.submit(_request("r1", owner="bob"))
    await store.submit(_request("r2"))
    assert await store.legacy_owner("r1") == "alice"
    assert await store.legacy_owner("r2") is None


async def test_start_attempt_refuses_a_request_id_with_another_body(backend):
    await backend.store.submit(_request("r1"))
    with pytest.raises(ConflictError, match="different job"):
        await backend.store.start_attempt(_request("r1", location="file:///other"), "w1", 10)
    assert (await backend.store.get("r1")).status == JobStatus.QUEUED


async def test_racing_starts_of_one_message_lease_it_once(backend):
    starts = await asyncio.gather(
        *(backend.store.start_attempt(_request("r1"), f"w{n}", 10) for n in range(6)))
    assert sum(start.started for start in starts) == 1
    assert (await backend.store.get("r1")).attempts == 1
