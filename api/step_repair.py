"""Pipeline steps whose process died: found, reported in health and readiness, reloaded, verified.

Each python step of a pipeline runs in its own Triton *stub* process. When one dies (killed,
out of memory), Triton keeps the model READY in every index and health check and never starts
the stub again: every request through it fails with "Stub process '<model>_0_0' is not healthy".
A plain load of the model does nothing (Triton holds it as loaded and its files did not change),
and an unload takes every ensemble using it down too; :meth:`TritonClient.reload_model` replaces
its instances under a config override instead, its pipelines staying up.

:class:`StepRepair` learns of dead steps two ways: from that error on any inference (the Triton
client reports it, and maps it to a transient 503 so jobs are retried, not failed), and from a
periodic probe that sends a small page with a printed line through every pipeline (every step
runs on it, the recognizer called through BLS included). While a step is down, ``/readyz``
answers 503, ``/api/v1/health`` names it, and documents for a pipeline that runs it are answered
503 at once (:meth:`StepRepair.refuse_if_down`) rather than sent to fail at the dead step. A
repair task reloads the model and then *verifies* it: the probe page goes through every pipeline
that runs the step (through nested ensembles and BLS, :mod:`docserve.inference.model_graph`); the
step is up again only when none of them meets it dead. Reloads are retried with exponential
backoff, a bounded number of times (then the next probe or request starts over), each outcome
counted in ``docserve_step_repairs_total``. Each request that meets the dead step is told to come
back when the step should be up again: when the next reload begins, plus how long the last
repair took (a first estimate until one is measured); a job that met it waits that long at least.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from functools import cache

from loguru import logger
from PIL import Image, ImageDraw, ImageFont

from docserve.api.metrics import GatewayMetrics
from docserve.contract.errors import DocserveError, StepDownError, retry_after
from docserve.inference.pipelines import Pipeline, PipelineCatalog, analyze_page
from docserve.inference.retry_policy import RetryPolicy
from docserve.inference.triton_client import TritonClient

RELOADS = RetryPolicy(attempts=5, backoff_s=0.5)
# How long a repair takes until one is measured: a reload (a second or two) and the probe page
# through the step's pipelines (seconds: 7 s for page_decode, in five pipelines, on a busy machine).
FIRST_REPAIR_ESTIMATE_S = 5.0


@cache
def probe_page() -> bytes:
    """A small page with one printed line: every step runs on it, quickly (a blank page would
    never reach the recognizer ``ocr_lines`` calls through BLS: it has no line to read)."""
    page = Image.new("L", (256, 64), 255)
    ImageDraw.Draw(page).text((8, 14), "docserve 42", fill=0, font=ImageFont.load_default(size=28))
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
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
        self._reload_s = FIRST_REPAIR_ESTIMATE_S  # how long the last successful repair took
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

    def refuse_if_down(self, pipeline: Pipeline) -> None:
        """Raise :class:`StepDownError` (with its ``Retry-After``) if a step ``pipeline`` runs is
        down: a page sent now would only fail there, after the steps before it ran for nothing."""
        down = sorted(set(self.down) & self.catalog.models_run_by(pipeline.name))
        if down:
            error = StepDownError(f"step '{down[0]}' of '{pipeline.name}' is down (its process died); "
                                  "it is being reloaded, retry shortly", model=down[0])
            error.retry_after_s = self.report(error)
            raise error

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
                await self.triton.reload_model(model)
                verified_by = await self._verify(model)
            except DocserveError as error:
                self.metrics.step_repairs.labels(model, "failed").inc()
                logger.warning("repairing step {} failed (attempt {}): {}", model, attempt, error.message)
                if RELOADS.exhausted(attempt):
                    break
                delay = RELOADS.delay_s(attempt)
                self._back_at[model] = time.monotonic() + delay + self._reload_s
                await asyncio.sleep(delay)
                continue
            self._reload_s = time.monotonic() - started
            self.down.pop(model, None)
            self.metrics.step_repairs.labels(model, "repaired").inc()
            logger.info("pipeline step {} reloaded: its pipelines run again (probe page through {})",
                        model, ", ".join(verified_by) or "no document pipeline runs it: Triton loaded it")
            return
        logger.error("pipeline step {} still down after {} reloads; the next probe or request tries again",
                     model, RELOADS.attempts)

    async def _verify(self, model: str) -> list[str]:
        """The probe page through every pipeline that runs ``model``, all at once; raises the
        :class:`StepDownError` of a dead step met on the way (``model`` or one before it, which
        hides whether ``model`` is back). Any other answer means the page went by the step (the
        probe page may be refused further on, by a pipeline expecting other documents).
        Returns the pipelines the page went through."""
        pipelines = await self.catalog.pipelines_running(model)
        probes = [analyze_page(self.triton, pipeline, probe_page(), "step-repair-probe")
                  for pipeline in pipelines]
        for outcome in await asyncio.gather(*probes, return_exceptions=True):
            if isinstance(outcome, StepDownError):
                raise outcome
            if isinstance(outcome, BaseException) and not isinstance(outcome, DocserveError):
                raise outcome
        return [pipeline.name for pipeline in pipelines]

    async def _probe_forever(self) -> None:
        while True:
            await asyncio.sleep(self.probe_interval_s)
            await self.probe()

    async def probe(self) -> None:
        """The probe page through every pipeline; dead steps report themselves via the client."""
        try:
            pipelines = await self.catalog.all()
        except DocserveError:
            return  # Triton unreachable: readiness says so already
        for pipeline in pipelines:
            # Any answer but a dead stub means the steps are alive (a blank page may be refused).
            with contextlib.suppress(DocserveError):
                await analyze_page(self.triton, pipeline, probe_page(), request_id="step-probe")
