"""Prometheus metrics of the gateway: HTTP traffic, Triton calls, fetches and the job queue.

Each gateway process has its own registry (several apps in one test process must not collide);
``GET /metrics`` exposes it. Triton's own metrics stay on Triton's metrics port; Prometheus
scrapes both (``docker/prometheus/``), and the alert rules and dashboard there use these names
(tests/api/test_monitoring.py checks every name they use exists).
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docserve.api.jobs.protocols import JobStore

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
JOB_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "docserve_http_requests", "HTTP requests answered", ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "docserve_http_request_seconds", "HTTP request latency", ["method", "route"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.triton_seconds = Histogram(
            "docserve_triton_inference_seconds", "Triton inference calls from this process", ["model"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.step_repairs = Counter(
            "docserve_step_repairs", "Pipeline steps found down (dead stub), reloaded, or failing to",
            ["model", "outcome"], registry=self.registry,
        )
        self.job_outcomes = Counter(
            "docserve_job_outcomes", "Job attempts by outcome (succeeded, failed, retried) and error code",
            ["pipeline", "outcome", "code"], registry=self.registry,
        )
        self.job_seconds = Histogram(
            "docserve_job_seconds", "Finished jobs: from submission to the stored outcome",
            ["pipeline", "outcome"], buckets=JOB_BUCKETS, registry=self.registry,
        )
        self.job_queue_wait_seconds = Histogram(
            "docserve_job_queue_wait_seconds", "Jobs: from submission to a worker's first claim",
            ["pipeline"], buckets=JOB_BUCKETS, registry=self.registry,
        )
        self.fetch_failures = Counter(
            "docserve_fetch_failures", "Documents that could not be fetched, by scheme and error code",
            ["scheme", "code"], registry=self.registry,
        )
        self.jobs = Gauge("docserve_jobs", "Jobs in the store by status", ["status"], registry=self.registry)
        self.oldest_queued_job_age_seconds = Gauge(
            "docserve_oldest_queued_job_age_seconds",
            "How long the oldest queued job has waited (0 when none waits): a stuck queue grows it",
            registry=self.registry,
        )
        self._store: JobStore | None = None

    def watch_jobs(self, store: JobStore) -> None:
        """Report jobs per status and the age of the oldest queued job, read at scrape time."""
        self._store = store

    async def exposition(self) -> bytes:
        if self._store is not None:
            await self._read_job_gauges(self._store)
        return generate_latest(self.registry)

    async def _read_job_gauges(self, store: JobStore) -> None:
        counts = await store.counts()
        self.jobs.clear()  # a status no job is in any more is not reported, as before
        for status, count in sorted(counts.items()):
            self.jobs.labels(status).set(count)
        self.oldest_queued_job_age_seconds.set(await store.oldest_queued_age_s() or 0.0)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (not its raw path)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.http_requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.http_seconds.labels(scope["method"], route).observe(time.perf_counter() - started)
