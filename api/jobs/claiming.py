"""How a store's ``claim`` waits: claim a due job now, else sleep until this process enqueues one.

Shared by the SQLite and MongoDB stores. Jobs queued by other processes are seen at the next
call: the worker loop calls ``claim`` again every ``wait_s``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from docserve.api.jobs.records import Job


async def claim_or_wait(claim_due: Callable[[], Awaitable[Job | None]], enqueued: asyncio.Event,
                        wait_s: float) -> Job | None:
    """``claim_due()`` now; if nothing is due, once more after this process's next enqueue
    (``enqueued`` set), or None after ``wait_s``."""
    enqueued.clear()
    job = await claim_due()
    if job is not None or wait_s <= 0:
        return job
    try:
        await asyncio.wait_for(enqueued.wait(), wait_s)
    except TimeoutError:
        return None
    return await claim_due()
