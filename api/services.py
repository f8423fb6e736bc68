"""The long-lived objects of a gateway or worker process, created and closed together."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from docserve.api.api_keys import KeyRing
from docserve.api.car_evaluation import CarEvaluationService
from docserve.api.documents.fetch import DocumentFetcher
from docserve.api.jobs.callbacks import CallbackSender
from docserve.api.jobs.store import JobStore
from docserve.api.jobs.uploads import UploadStore
from docserve.api.jobs.worker import JobWorkers
from docserve.api.metrics import GatewayMetrics
from docserve.api.settings import Settings
from docserve.api.step_repair import StepRepair
from docserve.inference.pipelines import PipelineCatalog
from docserve.inference.triton_client import TritonClient


@dataclass
class Services:
    settings: Settings
    triton: TritonClient
    car_evaluation: CarEvaluationService
    store: JobStore
    uploads: UploadStore
    catalog: PipelineCatalog
    fetcher: DocumentFetcher
    callbacks: CallbackSender
    workers: JobWorkers | None
    keys: KeyRing | None  # None: no keys file, the API is open (loopback only, see `docserve serve`)
    step_repair: StepRepair

    @classmethod
    def open(cls, settings: Settings, run_workers: bool, metrics: GatewayMetrics) -> Services:
        """Build everything; with ``run_workers`` the job workers start on the running loop."""
        triton = TritonClient(
            settings.triton_grpc_url, timeout_s=settings.triton_timeout_s, retries=settings.triton_retries,
            on_inference=lambda model, seconds: metrics.triton_seconds.labels(model).observe(seconds),
        )
        store = JobStore(settings.jobs_database, max_queue=settings.max_queue)
        metrics.watch_queue(store.counts, store.oldest_queued_age_s)
        uploads = UploadStore(settings.uploads_dir, settings.max_document_bytes, settings.upload_retention_s)
        catalog = PipelineCatalog(triton, ttl_s=settings.pipeline_cache_ttl_s)
        step_repair = StepRepair(triton, catalog, metrics, probe_interval_s=settings.step_probe_interval_s)
        step_repair.start()
        fetcher = DocumentFetcher(
            settings, on_failure=lambda scheme, error: metrics.fetch_failures.labels(scheme, error.code).inc()
        )
        callbacks = CallbackSender(settings, store)
        workers = None
        if run_workers:
            workers = JobWorkers(settings, store, uploads, triton, catalog, fetcher, callbacks, metrics)
        if workers is not None:
            workers.start()
        return cls(
            settings=settings, triton=triton,
            car_evaluation=CarEvaluationService(triton, settings.car_pipeline, settings.car_model),
            store=store, uploads=uploads, catalog=catalog, fetcher=fetcher, callbacks=callbacks,
            workers=workers, keys=KeyRing(settings.api_keys_file) if settings.api_keys_file else None,
            step_repair=step_repair,
        )

    async def close(self) -> None:
        if self.workers is not None:
            await self.workers.stop()
        await self.step_repair.close()
        await self.callbacks.close()
        await self.fetcher.close()
        await self.triton.close()
        await asyncio.to_thread(self.store.close)
