"""What the gateway and the workers need from a job backend: a :class:`JobStore` and a :class:`JobQueue`.

Routers, the job service, workers, callbacks, uploads and metrics depend on these two protocols
only; ``Services.open`` picks the implementations: one SQLite file is both
(``sqlite_jobs.SqliteJobs``, the embedded default), or MongoDB (``mongo_jobs.MongoJobs``, also
both), optionally behind the Redis cache (``result_cache.CachedJobStore``), with the Kafka queue
(``kafka_queue.KafkaJobQueue``) delivering instead; ``tests/api/jobs/test_job_backends.py`` is
the contract suite every store passes.

- The **store** holds the job records: the source of truth a client reads (``GET /jobs/{id}``),
  idempotency of submissions, cancellation, listings and counts, callback bookkeeping. A job is
  keyed by its owner and request id (``records``): every method that names a job by its request
  id takes its ``owner`` too (None: the anonymous owner), and another owner's job of the same id
  is another job, invisible from this one.
- The **queue** hands stored jobs to workers and settles each attempt: at-least-once delivery
  under a lease (a worker that dies loses its job to the next claim once the lease runs out),
  acknowledged by storing the outcome. A Kafka queue maps this onto a consumer group: ``claim``
  polls the request topic and starts the attempt on the store's record, the lease is the
  record's lease kept alive by ``extend_lease`` while the consumer keeps polling, ``succeed`` /
  ``fail`` store the outcome (the first stored outcome wins, per owner and request id), publish
  the ``JobResult`` and only then commit the offset; ``retry_later`` re-publishes the request for
  later; a redelivered message whose record is final or cancelled is acknowledged and skipped.

A running job reports its progress page by page (``JobQueue.start_pages``, ``record_page``,
under the lease like its outcome); clients read it in the record (``pages_total``,
``pages_done``) and the pages finished so far through ``JobStore.partial_pages``.

Every method is a coroutine: an implementation on a blocking client runs it in a thread
(``asyncio.to_thread``), never on the event loop. Errors clients should see are the typed
``DocserveError`` subclasses named below; times are seconds since the epoch.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from docserve.api.jobs.records import EVERY_OWNER, AttemptStart, CallbackState, Job, JobRequest, OwnerScope
from docserve.contract.jobs import JobStatus


@runtime_checkable
class JobStore(Protocol):
    """The job records, shared by every gateway and worker process of one deployment."""

    async def submit(self, request: JobRequest) -> tuple[Job, bool]:
        """Store ``request`` as a new ``queued`` job, or return the job already stored under its
        owner and request id: ``(job, created)``.

        Idempotent and atomic across processes: however many submissions of one owner's request
        id race, one job is created. A repeat with the same fingerprint returns the stored job
        (whatever its status now) with ``created`` False; the same id from another owner is
        another job. Raises ``ConflictError`` when the owner used the id with another
        fingerprint, and
        ``QueueFullError`` (with ``retry_after_s``, an estimate of when there is room) when the
        deployment's bound of queued jobs is reached; neither stores anything. A new job has
        ``attempts`` 0, ``created_at`` now, and ``callback_state`` ``pending`` when it has a
        callback URL.
        """
        ...

    async def get(self, request_id: str, owner: str | None = None) -> Job:
        """The job as stored now; ``NotFoundError`` if ``owner`` has none under ``request_id``."""
        ...

    async def list(self, status: JobStatus | None, limit: int,
                   owner: OwnerScope = EVERY_OWNER) -> list[Job]:
        """At most ``limit`` jobs, most recently submitted first; only those in ``status`` when
        given, and of ``owner`` unless ``EVERY_OWNER``."""
        ...

    async def counts(self, owner: OwnerScope = EVERY_OWNER) -> dict[str, int]:
        """Jobs per status value (statuses with none are left out); of ``owner`` only unless
        ``EVERY_OWNER``."""
        ...

    async def oldest_queued_age_s(self) -> float | None:
        """Seconds since the oldest job still queued was submitted; None when none is."""
        ...

    async def cancel(self, request_id: str, owner: str | None = None) -> Job:
        """Cancel a queued job: it becomes ``cancelled`` and final (``finished_at`` now), its
        callback is no longer owed, and no claim ever returns it. ``NotFoundError`` for an
        unknown id, ``ConflictError`` when the job is not queued (running or finished)."""
        ...

    async def partial_pages(self, request_id: str, owner: str | None = None) -> list[dict[str, Any]]:
        """The page results the job's current (or last failed) attempt has stored so far
        (``JobQueue.record_page``), in page order; ``[]`` before the first page and once the job
        succeeded (its result holds every page). ``NotFoundError`` for an unknown id."""
        ...

    async def set_callback_state(self, request_id: str, state: CallbackState,
                                 owner: str | None = None) -> None:
        """Record where the job's result callback stands (an unknown id is ignored)."""
        ...

    async def pending_callbacks(self, limit: int = 100) -> list[Job]:
        """At most ``limit`` finished jobs (succeeded or failed) whose callback is still
        ``pending``: owed by a process that stopped before delivering it."""
        ...

    async def start_attempt(self, request: JobRequest, worker_id: str, lease_s: float) -> AttemptStart:
        """Start an attempt at a job a message queue delivered, unless it is final or cancelled.

        For queues that carry the request itself (Kafka): the record is created first when
        there is none (a request put on the topic directly; ``QueueFullError`` never applies: the
        topic is the buffer), then, if the job is queued and due or its lease ran out, leased to
        ``worker_id`` for ``lease_s`` like a claim (``attempts`` + 1, ``processing``,
        ``started_at`` at the first). A final job (redelivery after its outcome was stored) is
        returned not started; so is one leased to another worker or not due, with
        ``not_before``. The job is the one of the request's owner and request id;
        ``ConflictError`` when it has another fingerprint.
        """
        ...

    async def legacy_owner(self, request_id: str) -> str | None:
        """The owner of the oldest job stored under ``request_id`` (None when it is anonymous or
        there is none).

        What a request id meant before ids were scoped per owner, when it named one job: a
        request message written then (no owner field) and the page images and uploads kept
        then (not under an owner folder) belong to this job.
        """
        ...

    async def close(self) -> None:
        """Release the backend's connections; idempotent."""
        ...


@runtime_checkable
class JobQueue(Protocol):
    """Stored jobs on their way to the workers: claims under a lease, settled by their outcome.

    ``job`` arguments are the jobs this queue's ``claim`` returned; ``worker_id`` names one
    worker process (its concurrent job loops share it). Settling methods return False when the
    lease was lost (it ran out and another claim took the job, or the job was settled
    meanwhile): the caller then drops its outcome, the current holder's is the one that counts.
    """

    async def enqueue(self, job: Job) -> None:
        """Offer a job the store just created to the workers (after ``JobStore.submit``
        returned it with ``created`` True). A queue that reads the store itself may only wake
        its idle claimers; a message queue publishes the request."""
        ...

    async def claim(self, worker_id: str, lease_s: float, wait_s: float) -> Job | None:
        """The next job to run, leased to ``worker_id`` for ``lease_s``; None if none came
        within ``wait_s`` (0: do not wait).

        Claimable are queued jobs whose retry time has come, and jobs whose lease ran out
        (their worker died: redelivery); never a cancelled or finished job, nor one another
        worker holds a live lease on. The oldest first, as far as the backend can order them.
        The claim counts an attempt (``attempts`` + 1, including the attempts of workers that
        died), makes the job ``processing`` and sets ``started_at`` on its first claim.
        """
        ...

    async def extend_lease(self, job: Job, worker_id: str, lease_s: float) -> bool:
        """Heartbeat: the lease now ends ``lease_s`` from now. False: it was lost; abandon the work."""
        ...

    async def start_pages(self, job: Job, worker_id: str, pages_total: int) -> bool:
        """Progress: the attempt split the document into ``pages_total`` pages to analyse.
        ``pages_done`` becomes 0 and the partial pages of earlier attempts are dropped, if
        ``worker_id`` still holds the lease."""
        ...

    async def record_page(self, job: Job, worker_id: str, page: dict[str, Any]) -> bool:
        """Progress: one page's result (a ``PageEntry`` as JSON, numbered by its ``page``) is
        readable through ``JobStore.partial_pages`` and counts in ``pages_done``; storing a page
        number again replaces it and counts once. Only while ``worker_id`` holds the lease."""
        ...

    async def succeed(self, job: Job, worker_id: str, result: dict[str, Any]) -> bool:
        """Store ``result`` as the job's outcome (``succeeded``, ``finished_at`` now) and
        acknowledge the delivery, if ``worker_id`` still holds the lease. The partial pages go
        (the result holds them); ``pages_done`` stays as recorded."""
        ...

    async def fail(self, job: Job, worker_id: str, code: str, message: str) -> bool:
        """Store the job's final error (``failed``, ``finished_at`` now) and acknowledge the
        delivery, if ``worker_id`` still holds the lease."""
        ...

    async def retry_later(self, job: Job, worker_id: str, code: str, message: str, delay_s: float) -> bool:
        """Back to ``queued``, claimable again ``delay_s`` from now, remembering why this
        attempt failed (``error_code``/``error_message``), if ``worker_id`` still holds the lease."""
        ...

    async def release(self, job: Job, worker_id: str) -> bool:
        """A graceful stop abandons the attempt: back to ``queued``, claimable at once (not when
        the lease would have run out), the interrupted attempt not counted, if ``worker_id``
        still holds the lease."""
        ...

    async def close(self) -> None:
        """Release the backend's connections; idempotent."""
        ...
