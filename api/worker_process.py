"""``docserve worker``: job workers without the HTTP gateway, sharing the gateway's job store.

Embedded default: several on one machine share the SQLite file, each taking jobs with its own
leases. ``DOCSERVE_QUEUE=kafka``: each is a member of the consumer group on the request topic
(any machine that reaches the broker, MongoDB and Triton); add processes up to the topic's
partition count to add throughput.
"""

from __future__ import annotations

import asyncio
import signal

from loguru import logger

from docserve.api.logs import configure_logging
from docserve.api.metrics import GatewayMetrics
from docserve.api.services import Services
from docserve.api.settings import Settings


async def run_workers(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; jobs in flight are left to their lease and retaken later."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    services = Services.open(settings, run_workers=True, metrics=GatewayMetrics())
    logger.info("worker process ready: queue {}, store {}, Triton {}", settings.queue, settings.store,
                settings.triton_grpc_url)
    print(f"docserve worker ready ({settings.worker_concurrency} concurrent jobs)", flush=True)
    try:
        await stop.wait()
    finally:
        await services.close()


def main(settings: Settings) -> None:
    configure_logging(settings)
    asyncio.run(run_workers(settings))
