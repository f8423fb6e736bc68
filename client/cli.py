"""The ``docserve`` command: run the service, rebuild the model repository, call pipelines."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from docserve.export.cli import export_app

app = typer.Typer(help="docserve: document-analysis pipelines on NVIDIA Triton.", no_args_is_help=True)
app.add_typer(export_app, name="export")

HttpPort = Annotated[int | None, typer.Option("--triton-http-port", help="Triton HTTP port [8000]")]
GrpcPort = Annotated[int | None, typer.Option("--triton-grpc-port", help="Triton gRPC port [8001]")]
MetricsPort = Annotated[
    int | None, typer.Option("--triton-metrics-port", help="Triton metrics port [8002]")
]
Repositories = Annotated[
    list[Path] | None,
    typer.Option("--model-repository", help="Repository to serve (repeat); default: both of ours"),
]


def _settings(http: int | None, grpc: int | None, metrics: int | None, repos: list[Path] | None):
    from docserve.api.settings import Settings

    overrides = {
        "triton_http_port": http,
        "triton_grpc_port": grpc,
        "triton_metrics_port": metrics,
        "model_repositories": repos or None,
    }
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


def _fail(error: Exception) -> typer.Exit:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


@app.command()
def triton(
    triton_http_port: HttpPort = None,
    triton_grpc_port: GrpcPort = None,
    triton_metrics_port: MetricsPort = None,
    model_repository: Repositories = None,
) -> None:
    """Run the embedded Triton server with docserve's repositories until Ctrl-C / SIGTERM."""
    from docserve.api.embedded_triton import EmbeddedTritonError
    from docserve.api.server import embedded_triton_for

    settings = _settings(triton_http_port, triton_grpc_port, triton_metrics_port, model_repository)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with embedded_triton_for(settings) as server:
            typer.echo(
                f"Triton ready: HTTP http://{server.http_url}  gRPC {server.grpc_url}  "
                f"metrics http://{settings.triton_host}:{settings.triton_metrics_port}/metrics"
            )
            stop.wait()
            typer.echo("stopping Triton ...")
    except EmbeddedTritonError as error:
        raise _fail(error) from error


@app.command()
def serve(
    port: Annotated[int | None, typer.Option("--port", help="Gateway port [8080]")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Gateway address [127.0.0.1]")] = None,
    triton_http_port: HttpPort = None,
    triton_grpc_port: GrpcPort = None,
    triton_metrics_port: MetricsPort = None,
    model_repository: Repositories = None,
) -> None:
    """Run embedded Triton and the gateway together; Ctrl-C stops both cleanly."""
    from docserve.api.embedded_triton import EmbeddedTritonError
    from docserve.api.server import serve as serve_both

    settings = _settings(triton_http_port, triton_grpc_port, triton_metrics_port, model_repository)
    if port is not None:
        settings.port = port
    if host is not None:
        settings.host = host
    try:
        serve_both(settings)
    except EmbeddedTritonError as error:
        raise _fail(error) from error


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", help="Jobs in flight [DOCSERVE_WORKER_CONCURRENCY]")
    ] = None,
) -> None:
    """Run job workers without the gateway (they share the gateway's SQLite store)."""
    from docserve.api.settings import Settings
    from docserve.api.worker_process import main

    settings = Settings()
    if concurrency is not None:
        settings.worker_concurrency = concurrency
    main(settings)


if __name__ == "__main__":
    app()
