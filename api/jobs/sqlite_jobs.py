"""The embedded job backend: one SQLite file (WAL) that is both the job store and the job queue.

A queued row *is* the queue's message, so one object implements both protocols
(``protocols.JobStore`` and ``protocols.JobQueue``) over one table (plus ``job_pages``, the
page results of a running attempt). Every state change is one SQL statement or one transaction,
so a crash between two leaves nothing half-done:
- a worker *claims* a job by taking a lease (``lease_owner``, ``lease_expires_at``); a job whose
  lease ran out (its worker died) is claimable again, and its attempt counter says so;
- results and failures are written only by the current lease owner, so a worker that lost its
  lease can never overwrite (or duplicate) what the next attempt stored;
- retries are rows back in ``queued`` with a later ``available_at`` (exponential backoff).

Several processes on one machine (``docserve serve`` and any ``docserve worker``) share the file;
SQLite's write lock serializes the claims. Workers of another process see a new job at their next
poll; ``enqueue`` wakes those of this process at once. The SQL runs in a thread
(``asyncio.to_thread``), never on the event loop.

A job's key is ``(owner, request_id)``: the anonymous owner is stored as ``''`` (a key column
cannot be NULL and stay unique). A database of an earlier version, keyed by ``request_id``
alone, is rebuilt on open in one transaction (``_scope_ids_by_owner``): every job keeps its
owner (NULL becomes the anonymous ``''``) and so stays reachable by it, its running attempt's
pages with it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from docserve.api.jobs.claiming import claim_or_wait
from docserve.api.jobs.records import EVERY_OWNER, AttemptStart, CallbackState, Job, JobRequest, OwnerScope
from docserve.contract.errors import ConflictError, NotFoundError, QueueFullError
from docserve.contract.jobs import JobStatus

JOBS_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    owner            TEXT NOT NULL DEFAULT '',
    request_id       TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    pipeline         TEXT NOT NULL,
    location         TEXT NOT NULL,
    options_json     TEXT NOT NULL,
    callback_url     TEXT,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       REAL NOT NULL,
    started_at       REAL,
    finished_at      REAL,
    available_at     REAL NOT NULL,
    lease_owner      TEXT,
    lease_expires_at REAL,
    result_json      TEXT,
    error_code       TEXT,
    error_message    TEXT,
    callback_state   TEXT,
    trace_parent     TEXT,
    pages_total      INTEGER,
    pages_done       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, request_id)
);
"""
PAGES_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    owner       TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL,
    page        INTEGER NOT NULL,
    result_json TEXT NOT NULL,
    PRIMARY KEY (owner, request_id, page)
);
"""
SCHEMA = JOBS_TABLE.format(name="jobs") + PAGES_TABLE.format(name="job_pages") + """
CREATE INDEX IF NOT EXISTS jobs_claimable ON jobs (status, available_at);
CREATE INDEX IF NOT EXISTS jobs_by_request_id ON jobs (request_id, created_at);
"""
# Columns added after the first release: (name, declaration), added to older databases on open.
ADDED_COLUMNS = (("owner", "TEXT"), ("trace_parent", "TEXT"), ("pages_total", "INTEGER"),
                 ("pages_done", "INTEGER NOT NULL DEFAULT 0"))
# One job: the condition every statement on a job by its key starts with (owner, request_id).
_KEY = "owner = ? AND request_id = ?"
# The lease condition every write of a running attempt carries (its key and worker id the parameters).
_LEASED = _KEY + " AND lease_owner = ? AND status = 'processing'"
PACE_WINDOW_S = 60.0  # the workers' recent pace, for Retry-After when the queue is full

P = ParamSpec("P")
T = TypeVar("T")
_SqlMethod = Callable[Concatenate["SqliteJobs", P], T]


def _off_the_loop(method: _SqlMethod[P, T]) -> _SqlMethod[P, Awaitable[T]]:
    """The blocking SQL method as the coroutine the protocols ask for: it runs in a thread."""

    @functools.wraps(method)
    async def in_thread(self: SqliteJobs, *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(method, self, *args, **kwargs)

    return in_thread


def _stored(owner: str | None) -> str:
    """The owner as its key column holds it: the anonymous owner is ``''``."""
    return owner or ""


def _key(job: Job | JobRequest) -> tuple[str, str]:
    return _stored(job.owner), job.request_id


def _job(row: sqlite3.Row) -> Job:
    return Job(
        request_id=row["request_id"],
        pipeline=row["pipeline"],
        location=row["location"],
        options=json.loads(row["options_json"]),
        callback_url=row["callback_url"],
        status=JobStatus(row["status"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        result=json.loads(row["result_json"]) if row["result_json"] else None,
        error_code=row["error_code"],
        error_message=row["error_message"],
        callback_state=row["callback_state"],
        owner=row["owner"] or None,
        trace_parent=row["trace_parent"],
        pages_total=row["pages_total"],
        pages_done=row["pages_done"],
    )


class SqliteJobs:
    """The jobs database of one data dir: a ``JobStore`` and a ``JobQueue``; thread-safe."""

    def __init__(self, path: Path, max_queue: int, clock: Callable[[], float] = time.time):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_queue = max_queue
        self._clock = clock  # tests move time by hand (leases, retry delays, the pace window)
        self._lock = threading.Lock()
        self._enqueued = asyncio.Event()  # a job was queued by this process: idle claimers wake
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        self._migrate()
        self._db.executescript(SCHEMA)

    def _migrate(self) -> None:
        """Bring a database of an earlier version up to this one, in one transaction (every
        process of a deployment opens the file at start: the first to get the write lock does
        it, the others find it done)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._add_missing_columns()
            self._scope_ids_by_owner()
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _columns(self, table: str) -> dict[str, sqlite3.Row]:
        return {row["name"]: row for row in self._db.execute(f"PRAGMA table_info({table})")}

    def _add_missing_columns(self) -> None:
        present = self._columns("jobs")
        for name, declaration in ADDED_COLUMNS:
            if present and name not in present:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {declaration}")

    def _scope_ids_by_owner(self) -> None:
        """Rebuild tables keyed by ``request_id`` alone (SQLite cannot change a primary key in
        place) into the ``(owner, request_id)`` layout, keeping every row."""
        jobs = self._columns("jobs")
        if jobs and not jobs["owner"]["pk"]:
            kept = ", ".join(name for name in jobs if name != "owner")
            self._db.execute(JOBS_TABLE.format(name="jobs_scoped"))
            self._db.execute(
                f"INSERT INTO jobs_scoped (owner, {kept}) SELECT COALESCE(owner, ''), {kept} FROM jobs")
            self._db.execute("DROP TABLE jobs")
            self._db.execute("ALTER TABLE jobs_scoped RENAME TO jobs")
        pages = self._columns("job_pages")
        if pages and "owner" not in pages:
            self._db.execute(PAGES_TABLE.format(name="pages_scoped"))
            self._db.execute("INSERT INTO pages_scoped (owner, request_id, page, result_json)"
                             " SELECT jobs.owner, job_pages.request_id, page, job_pages.result_json"
                             " FROM job_pages JOIN jobs USING (request_id)")
            self._db.execute("DROP TABLE job_pages")
            self._db.execute("ALTER TABLE pages_scoped RENAME TO job_pages")

    @_off_the_loop
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _one(self, sql: str, params: tuple = ()) -> sqlite3.Row | None:
        """Run one statement to completion (all rows fetched: RETURNING statements then commit)."""
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return rows[0] if rows else None

    def _all(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- the store -------------------------------------------------------------------------------
    @_off_the_loop
    def submit(self, request: JobRequest) -> tuple[Job, bool]:
        now = self._clock()
        fingerprint = request.fingerprint()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                existing = self._db.execute(f"SELECT * FROM jobs WHERE {_KEY}", _key(request)).fetchone()
                if existing is None:
                    (queued,) = self._db.execute(
                        "SELECT COUNT(*) FROM jobs WHERE status = 'queued'"
                    ).fetchone()
                    if queued >= self.max_queue:
                        raise QueueFullError(
                            f"{queued} jobs are queued (DOCSERVE_MAX_QUEUE); retry later",
                            retry_after_s=self._seconds_to_room(queued - self.max_queue + 1, now),
                        )
                    self._db.execute(
                        "INSERT INTO jobs (owner, request_id, fingerprint, pipeline, location, options_json,"
                        " callback_url, status, created_at, available_at, callback_state, trace_parent)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                        (*_key(request), fingerprint, request.pipeline, request.location,
                         json.dumps(request.options, sort_keys=True), request.callback_url, now, now,
                         "pending" if request.callback_url else None, request.trace_parent),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if existing is not None:
            if existing["fingerprint"] != fingerprint:
                raise ConflictError(
                    f"request_id {request.request_id!r} was already used for a different job "
                    "(pipeline, location, options or callback_url differ)"
                )
            return _job(existing), False
        return self._get(request.request_id, request.owner), True

    def _seconds_to_room(self, jobs: int, now: float) -> int:
        """How long the workers take to finish ``jobs`` jobs at their pace of the last minute
        (the longest wait, a minute, when nothing finished lately). Caller holds the lock."""
        (finished,) = self._db.execute(
            "SELECT COUNT(*) FROM jobs WHERE finished_at > ?", (now - PACE_WINDOW_S,)
        ).fetchone()
        if not finished:
            return int(PACE_WINDOW_S)
        return max(1, min(int(PACE_WINDOW_S), math.ceil(jobs * PACE_WINDOW_S / finished)))

    def _get(self, request_id: str, owner: str | None = None) -> Job:
        row = self._one(f"SELECT * FROM jobs WHERE {_KEY}", (_stored(owner), request_id))
        if row is None:
            raise NotFoundError(f"no job with request_id {request_id!r}")
        return _job(row)

    get = _off_the_loop(_get)

    @_off_the_loop
    def list(self, status: JobStatus | None, limit: int,
             owner: OwnerScope = EVERY_OWNER) -> list[Job]:
        clauses, params = ["1 = 1"], []
        if status is not None:
            clauses.append("status = ?")
            params.append(status.value)
        if owner is not EVERY_OWNER:
            clauses.append("owner = ?")
            params.append(_stored(owner))
        sql = f"SELECT * FROM jobs WHERE {' AND '.join(clauses)} ORDER BY created_at DESC LIMIT ?"
        return [_job(row) for row in self._all(sql, (*params, limit))]

    @_off_the_loop
    def cancel(self, request_id: str, owner: str | None = None) -> Job:
        row = self._one(
            "UPDATE jobs SET status = 'cancelled', finished_at = ?, callback_state = NULL"
            f" WHERE {_KEY} AND status = 'queued' RETURNING *",
            (self._clock(), _stored(owner), request_id),
        )
        if row is not None:
            return _job(row)
        job = self._get(request_id, owner)
        raise ConflictError(f"job {request_id!r} is {job.status.value}; only queued jobs can be cancelled")

    @_off_the_loop
    def counts(self, owner: OwnerScope = EVERY_OWNER) -> dict[str, int]:
        if owner is EVERY_OWNER:
            rows = self._all("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        else:
            rows = self._all("SELECT status, COUNT(*) AS n FROM jobs WHERE owner = ? GROUP BY status",
                             (_stored(owner),))
        return {row["status"]: row["n"] for row in rows}

    @_off_the_loop
    def oldest_queued_age_s(self) -> float | None:
        row = self._one("SELECT MIN(created_at) AS oldest FROM jobs WHERE status = 'queued'")
        if row is None or row["oldest"] is None:
            return None
        return self._clock() - row["oldest"]

    @_off_the_loop
    def partial_pages(self, request_id: str, owner: str | None = None) -> list[dict[str, Any]]:
        self._get(request_id, owner)  # NotFoundError for an unknown id
        rows = self._all(f"SELECT result_json FROM job_pages WHERE {_KEY} ORDER BY page",
                         (_stored(owner), request_id))
        return [json.loads(row["result_json"]) for row in rows]

    @_off_the_loop
    def set_callback_state(self, request_id: str, state: CallbackState, owner: str | None = None) -> None:
        self._one(f"UPDATE jobs SET callback_state = ? WHERE {_KEY} RETURNING request_id",
                  (state, _stored(owner), request_id))

    @_off_the_loop
    def pending_callbacks(self, limit: int = 100) -> list[Job]:
        rows = self._all("SELECT * FROM jobs WHERE callback_state = 'pending'"
                         " AND status IN ('succeeded', 'failed') LIMIT ?", (limit,))
        return [_job(row) for row in rows]

    @_off_the_loop
    def legacy_owner(self, request_id: str) -> str | None:
        row = self._one("SELECT owner FROM jobs WHERE request_id = ? ORDER BY created_at LIMIT 1",
                        (request_id,))
        return (row["owner"] or None) if row else None

    @_off_the_loop
    def start_attempt(self, request: JobRequest, worker_id: str, lease_s: float) -> AttemptStart:
        now = self._clock()
        fingerprint = request.fingerprint()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR IGNORE INTO jobs (owner, request_id, fingerprint, pipeline, location,"
                    " options_json, callback_url, status, created_at, available_at, callback_state,"
                    " trace_parent) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                    (*_key(request), fingerprint, request.pipeline, request.location,
                     json.dumps(request.options, sort_keys=True), request.callback_url, now, now,
                     "pending" if request.callback_url else None, request.trace_parent),
                )
                row = self._db.execute(f"SELECT * FROM jobs WHERE {_KEY}", _key(request)).fetchone()
                if row["fingerprint"] != fingerprint:
                    raise ConflictError(
                        f"request_id {request.request_id!r} was already used for a different job "
                        "(pipeline, location, options or callback_url differ)")
                started = self._db.execute(
                    "UPDATE jobs SET status = 'processing', lease_owner = ?, lease_expires_at = ?,"
                    " attempts = attempts + 1, started_at = COALESCE(started_at, ?)"
                    f" WHERE {_KEY} AND ((status = 'queued' AND available_at <= ?)"
                    "   OR (status = 'processing' AND lease_expires_at < ?))"
                    " RETURNING *",
                    (worker_id, now + lease_s, now, *_key(request), now, now),
                ).fetchone()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if started is not None:
            return AttemptStart(_job(started), started=True)
        job = _job(row)
        if job.status.final:
            return AttemptStart(job, started=False)
        not_before = row["available_at"] if job.status == JobStatus.QUEUED else row["lease_expires_at"]
        return AttemptStart(job, started=False, not_before=not_before)

    # -- the queue -------------------------------------------------------------------------------
    async def enqueue(self, job: Job) -> None:
        """The row is already the message: only wake this process's idle claimers."""
        self._enqueued.set()

    async def claim(self, worker_id: str, lease_s: float, wait_s: float) -> Job | None:
        """Claim now; if nothing is due, wait for this process's next ``enqueue`` (jobs queued
        by other processes are seen at the next call: the caller polls every ``wait_s``)."""
        return await claim_or_wait(lambda: self._claim_due(worker_id, lease_s), self._enqueued, wait_s)

    @_off_the_loop
    def _claim_due(self, worker_id: str, lease_s: float) -> Job | None:
        """Take the oldest runnable job (queued and due, or abandoned by a dead worker)."""
        now = self._clock()
        row = self._one(
            "UPDATE jobs SET status = 'processing', lease_owner = ?, lease_expires_at = ?,"
            " attempts = attempts + 1, started_at = COALESCE(started_at, ?)"
            " WHERE rowid = ("
            "   SELECT rowid FROM jobs"
            "   WHERE (status = 'queued' AND available_at <= ?)"
            "      OR (status = 'processing' AND lease_expires_at < ?)"
            "   ORDER BY available_at LIMIT 1)"
            " RETURNING *",
            (worker_id, now + lease_s, now, now, now),
        )
        return _job(row) if row else None

    @_off_the_loop
    def extend_lease(self, job: Job, worker_id: str, lease_s: float) -> bool:
        row = self._one(
            f"UPDATE jobs SET lease_expires_at = ? WHERE {_LEASED} RETURNING request_id",
            (self._clock() + lease_s, *_key(job), worker_id),
        )
        return row is not None

    @_off_the_loop
    def start_pages(self, job: Job, worker_id: str, pages_total: int) -> bool:
        return self._in_transaction(
            (f"UPDATE jobs SET pages_total = ?, pages_done = 0 WHERE {_LEASED} RETURNING request_id",
             (pages_total, *_key(job), worker_id)),
            (f"DELETE FROM job_pages WHERE {_KEY}", _key(job)),
        )

    @_off_the_loop
    def record_page(self, job: Job, worker_id: str, page: dict[str, Any]) -> bool:
        return self._in_transaction(
            (f"SELECT request_id FROM jobs WHERE {_LEASED}", (*_key(job), worker_id)),
            ("INSERT OR REPLACE INTO job_pages (owner, request_id, page, result_json) VALUES (?, ?, ?, ?)",
             (*_key(job), int(page["page"]), json.dumps(page))),
            (f"UPDATE jobs SET pages_done = (SELECT COUNT(*) FROM job_pages WHERE {_KEY}) WHERE {_KEY}",
             (*_key(job), *_key(job))),
        )

    def _in_transaction(self, guard: tuple[str, tuple], *then: tuple[str, tuple]) -> bool:
        """Run ``guard``; if it returned a row, the statements of ``then`` too, all in one
        transaction (False, and nothing changed, when the guard found no row)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                held = self._db.execute(*guard).fetchall()
                if held:
                    for statement in then:
                        self._db.execute(*statement)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return bool(held)

    @_off_the_loop
    def succeed(self, job: Job, worker_id: str, result: dict[str, Any]) -> bool:
        return self._in_transaction(
            ("UPDATE jobs SET status = 'succeeded', result_json = ?, finished_at = ?, lease_owner = NULL,"
             f" lease_expires_at = NULL WHERE {_LEASED} RETURNING request_id",
             (json.dumps(result), self._clock(), *_key(job), worker_id)),
            (f"DELETE FROM job_pages WHERE {_KEY}", _key(job)),
        )

    @_off_the_loop
    def fail(self, job: Job, worker_id: str, code: str, message: str) -> bool:
        return self._finish(
            job, worker_id, "status = 'failed', error_code = ?, error_message = ?", (code, message)
        )

    @_off_the_loop
    def retry_later(self, job: Job, worker_id: str, code: str, message: str, delay_s: float) -> bool:
        row = self._one(
            "UPDATE jobs SET status = 'queued', available_at = ?, lease_owner = NULL,"
            " lease_expires_at = NULL, error_code = ?, error_message = ?"
            f" WHERE {_LEASED} RETURNING request_id",
            (self._clock() + delay_s, code, message, *_key(job), worker_id),
        )
        return row is not None

    @_off_the_loop
    def release(self, job: Job, worker_id: str) -> bool:
        row = self._one(
            "UPDATE jobs SET status = 'queued', available_at = ?, lease_owner = NULL,"
            " lease_expires_at = NULL, attempts = attempts - 1"
            f" WHERE {_LEASED} RETURNING request_id",
            (self._clock(), *_key(job), worker_id),
        )
        return row is not None

    def _finish(self, job: Job, worker_id: str, assignments: str, params: tuple) -> bool:
        row = self._one(
            f"UPDATE jobs SET {assignments}, finished_at = ?, lease_owner = NULL, lease_expires_at = NULL"
            f" WHERE {_LEASED} RETURNING request_id",
            (*params, self._clock(), *_key(job), worker_id),
        )
        return row is not None
