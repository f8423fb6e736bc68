"""``docserve worker``: job workers without the HTTP gateway, sharing the gateway's job store.

Embedded default: several on one machine share the SQLite file, each taking jobs with its own
leases. ``DOCSERVE_QUEUE=kafka``: each is a member of the consumer group on the request topic
(any machine that reaches the broker, MongoDB and Triton); add processes up to the topic's
partition count to add throughput. With ``DOCSERVE_WORKER_PROBE_PORT`` set, the worker also
answers the gateway's probes (``/healthz``, ``/readyz``, ``/metrics``) on that port, for
orchestrators and Prometheus.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI
from loguru import logger

from docserve.api.logs import configure_logging
from docserve.api.metrics import GatewayMetrics
from docserve.api.routers import probes
from docserve.api.services import Services
from docserve.api.settings import Settings


class _ProbeServer(uvicorn.Server):
    """uvicorn without its own signal handling: the worker's handlers stop it with the worker."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def probes_app(services: Services, metrics: GatewayMetrics) -> FastAPI:
    """The gateway's probe routes over this worker's services: ready when its Triton is."""
    app = FastAPI(title="docserve worker", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.services = services
    app.state.metrics = metrics
    app.include_router(probes.router)
    return app


async def run_workers(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; jobs in flight are left to their lease and retaken later."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    metrics = GatewayMetrics()
    services = Services.open(settings, run_workers=True, metrics=metrics)
    probe_server = None
    if settings.worker_probe_port:
        probe_server = _ProbeServer(uvicorn.Config(
            probes_app(services, metrics), host=settings.host, port=settings.worker_probe_port,
            log_config=None, access_log=False,
        ))
        probe_task = asyncio.create_task(probe_server.serve())
    logger.info("worker process ready: queue {}, store {}, Triton {}", settings.queue, settings.store,
                settings.triton_grpc_url)
    print(f"docserve worker ready ({settings.worker_concurrency} concurrent jobs)", flush=True)
    try:
        await stop.wait()
    finally:
        if probe_server is not None:
            probe_server.should_exit = True
            await probe_task
        await services.close()


def main(settings: Settings) -> None:
    configure_logging(settings)
    asyncio.run(run_workers(settings))
