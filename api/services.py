"""The long-lived objects of a gateway or worker process, created and closed together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from docserve.api.api_keys import KeyRing
from docserve.api.car_evaluation import CarEvaluationService
from docserve.api.documents.fetch import DocumentFetcher
from docserve.api.documents.service import DocumentService
from docserve.api.jobs.callbacks import CallbackSender
from docserve.api.jobs.page_images import PageImageStore
from docserve.api.jobs.protocols import JobQueue, JobStore
from docserve.api.jobs.service import JobService
from docserve.api.jobs.sqlite_jobs import SqliteJobs
from docserve.api.jobs.uploads import UploadStore
from docserve.api.jobs.worker import JobWorkers
from docserve.api.metrics import GatewayMetrics
from docserve.api.settings import Settings
from docserve.api.step_repair import StepRepair
from docserve.inference.pipelines import PipelineCatalog
from docserve.inference.triton_client import TritonClient

if TYPE_CHECKING:
    from docserve.api.jobs.mongo_jobs import MongoJobs


def open_job_backends(settings: Settings) -> tuple[JobStore, JobQueue]:
    """The job store and queue the settings choose (the one place that names them).

    Embedded default: one SQLite file is both. ``DOCSERVE_STORE=mongodb``: MongoDB holds the
    records (and is the queue too, unless ``DOCSERVE_QUEUE=kafka``); ``DOCSERVE_REDIS_URL``:
    reads go through the Redis cache; ``DOCSERVE_QUEUE=kafka``: the request topic delivers the
    jobs, leased on the store's records. The scale-out backends are imported only when chosen:
    their clients are the ``scale-out`` extra, which the embedded default does not install.
    """
    records: SqliteJobs | MongoJobs
    if settings.store == "mongodb":
        from docserve.api.jobs.mongo_jobs import MongoJobs

        assert settings.mongodb_url is not None
        records = MongoJobs(settings.mongodb_url, settings.mongodb_database, max_queue=settings.max_queue,
                            retention_s=settings.job_retention_s)
    else:
        records = SqliteJobs(settings.jobs_database, max_queue=settings.max_queue)
    store: JobStore = records
    if settings.redis_url:
        from docserve.api.jobs.result_cache import CachedJobStore

        store = CachedJobStore(records, settings.redis_url, settings.result_cache_ttl_s)
    if settings.queue != "kafka":
        return store, records  # SQLite and MongoDB are queues too
    from docserve.api.jobs.kafka_queue import KafkaJobQueue
    from docserve.inference.job_messages import JobMessageCodec

    assert settings.kafka_bootstrap_servers is not None and settings.schema_registry_url is not None
    codec = JobMessageCodec(settings.schema_registry_url, settings.kafka_request_topic,
                            settings.kafka_result_topic)
    queue = KafkaJobQueue(settings.kafka_bootstrap_servers, codec, settings.kafka_dead_letter_topic,
                          settings.kafka_consumer_group, store=store, leases=records,
                          max_in_flight=settings.worker_concurrency)
    return store, queue


@dataclass
class Services:
    settings: Settings
    triton: TritonClient
    car_evaluation: CarEvaluationService
    store: JobStore
    queue: JobQueue
    uploads: UploadStore
    page_images: PageImageStore
    catalog: PipelineCatalog
    fetcher: DocumentFetcher
    documents: DocumentService
    jobs: JobService
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
        store, queue = open_job_backends(settings)
        metrics.watch_jobs(store)
        uploads = UploadStore(settings.uploads_dir, settings.max_document_bytes, settings.upload_retention_s)
        page_images = PageImageStore(settings.page_images_dir, settings.page_image_retention_s)
        catalog = PipelineCatalog(triton, ttl_s=settings.pipeline_cache_ttl_s)
        step_repair = StepRepair(triton, catalog, metrics, probe_interval_s=settings.step_probe_interval_s)
        step_repair.start()
        fetcher = DocumentFetcher(
            settings, on_failure=lambda scheme, error: metrics.fetch_failures.labels(scheme, error.code).inc()
        )
        documents = DocumentService(settings, triton, catalog, fetcher, step_repair)
        jobs = JobService(store, queue, uploads, page_images, documents,
                          allow_private_hosts=settings.allow_private_hosts)
        callbacks = CallbackSender(settings, store)
        workers = None
        if run_workers:
            workers = JobWorkers(settings, queue, store, uploads, page_images, documents, callbacks, metrics)
            workers.start()
        return cls(
            settings=settings, triton=triton,
            car_evaluation=CarEvaluationService(triton, settings.car_pipeline, settings.car_model),
            store=store, queue=queue, uploads=uploads, page_images=page_images, catalog=catalog,
            fetcher=fetcher, documents=documents, jobs=jobs, callbacks=callbacks, workers=workers,
            keys=KeyRing(settings.api_keys_file) if settings.api_keys_file else None, step_repair=step_repair,
        )

    async def close(self) -> None:
        if self.workers is not None:
            await self.workers.stop()
        await self.step_repair.close()
        await self.callbacks.close()
        await self.fetcher.close()
        await self.triton.close()
        if self.queue is not self.store:
            await self.queue.close()
        await self.store.close()
