"""``docserve serve``: embedded Triton and the gateway in one command, stopped together."""

from __future__ import annotations

import uvicorn
from loguru import logger

from docserve.api.app import create_app
from docserve.api.embedded_triton import EmbeddedTriton, TritonOptions, TritonPorts
from docserve.api.logs import configure_logging
from docserve.api.settings import Settings


def embedded_triton_for(settings: Settings) -> EmbeddedTriton:
    """An (unstarted) embedded Triton configured from ``settings``."""
    return EmbeddedTriton(
        TritonOptions(
            model_repositories=settings.model_repositories,
            work_dir=settings.data_dir.resolve() / "triton",
            ports=TritonPorts(
                settings.triton_http_port, settings.triton_grpc_port, settings.triton_metrics_port
            ),
            host=settings.triton_host,
            model_control_mode=settings.triton_model_control_mode,
            log_verbose=settings.triton_log_verbose,
            startup_timeout_s=settings.triton_startup_timeout_s,
        )
    )


def serve(settings: Settings) -> None:
    """Start Triton, then the gateway; block until SIGINT/SIGTERM; stop the gateway, then Triton."""
    configure_logging(settings)
    with embedded_triton_for(settings) as triton:
        config = uvicorn.Config(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_config=None,  # uvicorn's records go through our JSON logging
            lifespan="on",
        )
        server = uvicorn.Server(config)
        base = f"http://{settings.host}:{settings.port}"
        logger.info(
            "docserve ready: gateway {base}/  API docs {base}/docs  health {base}/api/v1/health  "
            "Triton HTTP http://{http}  gRPC {grpc}",
            base=base, http=triton.http_url, grpc=triton.grpc_url,
        )
        server.run()  # handles SIGINT/SIGTERM itself and returns once the gateway has stopped
