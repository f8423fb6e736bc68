"""Pipeline steps whose process died: found, reported in health and readiness, and reloaded.

Each python step of a pipeline runs in its own Triton *stub* process. When one dies (killed,
out of memory), Triton keeps the model READY in every index and health check and never starts
the stub again: every request through it fails with "Stub process '<model>_0_0' is not healthy".
Reloading the model through Triton's repository API starts a fresh stub.

:class:`StepRepair` learns of dead steps two ways: from that error on any inference (the Triton
client reports it, and maps it to a transient 503 so jobs are retried, not failed), and from a
periodic probe that sends a blank page through every pipeline. While a step is down,
``/readyz`` answers 503 and ``/api/v1/health`` names it; a repair task reloads the model with
exponential backoff, a bounded number of times, counting each outcome in
``docserve_step_repairs_total``. Each request that meets the dead step is told to come back when
the step should be up again: when the next reload begins, plus how long the last reload took.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from functools import cache

from loguru import logger
from PIL import Image

from docserve.api.metrics import GatewayMetrics
from docserve.contract.errors import DocserveError, StepDownError, retry_after
from docserve.inference.pipelines import PipelineCatalog, analyze_page
from docserve.inference.retry_policy import RetryPolicy
from docserve.inference.triton_client import TritonClient

RELOADS = RetryPolicy(attempts=5, backoff_s=0.5)


@cache
def probe_page() -> bytes:
    """A blank 64 x 64 page (the smallest the vision steps read): every step runs, quickly."""
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buffer, format="PNG")
    return buffer.getvalue()


class StepRepair:
    def __init__(self, triton: TritonClient, catalog: PipelineCatalog, metrics: GatewayMetrics,
                 probe_interval_s: float):
        self.triton = triton
        self.catalog = catalog
        self.metrics = metrics
        self.probe_interval_s = probe_interval_s
        self.down: dict[str, str] = {}  # model -> what its failure said
        self._back_at: dict[str, float] = {}  # model -> when it should be up again (monotonic)
        self._reload_s = 0.0  # how long the last successful reload took
        self._repairs: dict[str, asyncio.Task] = {}
        self._probe: asyncio.Task | None = None
        triton.on_step_down = self.report

    def start(self) -> None:
        self._probe = asyncio.create_task(self._probe_forever(), name="step-probe")

    async def close(self) -> None:
        tasks = [*self._repairs.values(), *([self._probe] if self._probe else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def report(self, error: StepDownError) -> int:
        """A request met a dead step: mark it down, start reloading it (once), and answer the
        request's ``Retry-After``: the seconds until the step should be up again."""
        if error.model not in self.down:
            logger.error("pipeline step {} is down: {}; reloading it", error.model, error.message)
            self.metrics.step_repairs.labels(error.model, "detected").inc()
        self.down[error.model] = error.message
        now = time.monotonic()
        if error.model not in self._repairs:
            self._back_at[error.model] = now + self._reload_s
            task = asyncio.create_task(self._repair(error.model), name=f"repair-{error.model}")
            self._repairs[error.model] = task
            task.add_done_callback(lambda _: self._repairs.pop(error.model, None))
        return retry_after(self._back_at.get(error.model, now) - now)

    async def _repair(self, model: str) -> None:
        try:
            await self._reload(model)
        finally:
            self._back_at.pop(model, None)

    async def _reload(self, model: str) -> None:
        for attempt in range(1, RELOADS.attempts + 1):
            started = time.monotonic()
            self._back_at[model] = started + self._reload_s
            try:
                await self.triton.load_model(model)
            except DocserveError as error:
                self.metrics.step_repairs.labels(model, "failed").inc()
                logger.warning("reloading step {} failed (attempt {}): {}", model, attempt, error.message)
                if RELOADS.exhausted(attempt):
                    break
                delay = RELOADS.delay_s(attempt)
                self._back_at[model] = time.monotonic() + delay + self._reload_s
                await asyncio.sleep(delay)
                continue
            self._reload_s = time.monotonic() - started
            self.down.pop(model, None)
            self.metrics.step_repairs.labels(model, "repaired").inc()
            logger.info("pipeline step {} reloaded: its pipelines run again", model)
            return
        logger.error("pipeline step {} still down after {} reloads; the next probe tries again",
                     model, RELOADS.attempts)

    async def _probe_forever(self) -> None:
        while True:
            await asyncio.sleep(self.probe_interval_s)
            await self.probe()

    async def probe(self) -> None:
        """A blank page through every pipeline; dead steps report themselves via the client."""
        try:
            pipelines = await self.catalog.all()
        except DocserveError:
            return  # Triton unreachable: readiness says so already
        for pipeline in pipelines:
            # Any answer but a dead stub means the steps are alive (a blank page may be refused).
            with contextlib.suppress(DocserveError):
                await analyze_page(self.triton, pipeline, probe_page(), request_id="step-probe")
