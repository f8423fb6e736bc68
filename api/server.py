"""``docserve serve``: embedded Triton and the gateway in one command, stopped together."""

from __future__ import annotations

import uvicorn

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


class _AnnouncingServer(uvicorn.Server):
    """uvicorn's server, telling the user where to look once the gateway accepts connections."""

    def __init__(self, config: uvicorn.Config, banner: str):
        super().__init__(config)
        self.banner = banner

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started:
            print(self.banner, flush=True)


def _banner(settings: Settings, triton: EmbeddedTriton) -> str:
    base = f"http://{settings.host}:{settings.port}"
    return "\n".join([
        "",
        "docserve is up (Ctrl-C stops the gateway and Triton)",
        f"  gateway      {base}/",
        f"  API docs     {base}/docs",
        f"  health       {base}/api/v1/health",
        f"  Triton gRPC  {triton.grpc_url}   (tritonclient.grpc, the high-throughput path)",
        f"  Triton HTTP  http://{triton.http_url}",
        f"  metrics      http://{settings.triton_host}:{settings.triton_metrics_port}/metrics",
        "",
    ])


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
        server = _AnnouncingServer(config, _banner(settings, triton))
        server.run()  # handles SIGINT/SIGTERM itself and returns once the gateway has stopped
