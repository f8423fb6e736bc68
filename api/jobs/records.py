"""Job records: what a client asked for and what became of it, as every job backend stores them.

These are the gateway's own records, not HTTP views (``schemas/jobs.py`` turns a :class:`Job`
into the ``JobView`` clients read); the job backends (``protocols.py``) take and return them.

A job is known by its owner *and* its request id: request ids are the clients' own, so they are
unique per owner only (bob's ``alice-1`` is another job than alice's, and neither learns of the
other). The owner is the API key's name; None is the one anonymous owner of a gateway without
keys (and of requests put on the Kafka topic directly).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from docserve.contract.jobs import JobStatus

# Where a job's result callback stands: owed (``pending``), ``delivered``, or given up (``failed``).
CallbackState = Literal["pending", "delivered", "failed"]


class EveryOwner(Enum):
    """A listing or count over every owner's jobs (the operators' metrics), not one owner's."""

    EVERY = "every"


EVERY_OWNER = EveryOwner.EVERY
# Whose jobs a listing or count covers: one owner's (None: the anonymous owner's), or every owner's.
OwnerScope = str | EveryOwner | None


def owner_folder(owner: str | None) -> str:
    """The name under which ``owner``'s per-job files and cache entries are kept: ``~`` and the
    owner's name as UTF-8 hex (``~`` alone for the anonymous owner). Distinct per owner, safe in
    a path, and never a request id (``~`` is outside their grammar), so two owners' jobs of one
    request id never share a page image, an upload or a cache entry."""
    return "~" + (owner or "").encode().hex()


def folder_owner(name: str) -> str | None:
    """The owner of an :func:`owner_folder` name; ``ValueError`` when ``name`` is not one."""
    if not name.startswith("~"):
        raise ValueError(f"{name!r} is not an owner folder")
    return bytes.fromhex(name[1:]).decode() or None


@dataclass(frozen=True)
class JobRequest:
    """What a client asks for; its fingerprint decides idempotency."""

    request_id: str
    pipeline: str
    location: str
    options: dict[str, Any] = field(default_factory=dict)
    callback_url: str | None = None
    owner: str | None = None  # the API key's name (None: anonymous); scopes the request id, not fingerprinted
    trace_parent: str | None = None  # W3C traceparent of the submission: workers continue its trace

    def fingerprint(self) -> str:
        """The body's digest: the same request id with another fingerprint is a conflict."""
        body = {"pipeline": self.pipeline, "location": self.location, "options": self.options,
                "callback_url": self.callback_url}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Job:
    """One job as stored: the request, its status and attempts, and its outcome once it has one.

    Times are seconds since the epoch. ``error_code``/``error_message`` are the last failed
    attempt's while the job is queued for a retry, and the final error once it failed.
    ``pages_total`` is the number of pages the current attempt analyses (None until a worker
    has split the document), ``pages_done`` how many of them have their result stored.
    """

    request_id: str
    pipeline: str
    location: str
    options: dict[str, Any]
    callback_url: str | None
    status: JobStatus
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    result: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    callback_state: CallbackState | None
    owner: str | None = None
    trace_parent: str | None = None
    pages_total: int | None = None
    pages_done: int = 0


@dataclass(frozen=True)
class AttemptStart:
    """What ``JobStore.start_attempt`` did with a delivered request.

    ``started``: this caller now holds the lease and runs the attempt. Otherwise the job is final
    (``job.status.final``: the delivery is a duplicate, acknowledge it) or not runnable yet:
    another worker holds a live lease, or a retry is not due; ``not_before`` says when to ask again.
    """

    job: Job
    started: bool
    not_before: float | None = None
