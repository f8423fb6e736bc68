"""The gateway's commands: run Triton, the gateway and workers; manage model versions and API keys.

They act on this machine's server side (its settings, repositories and keys file), so they live
with the gateway; :mod:`docserve.cli.main` mounts them under the one ``docserve`` command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

server_app = typer.Typer()

HttpPort = Annotated[int | None, typer.Option("--triton-http-port", help="Triton HTTP port [8000]")]
GrpcPort = Annotated[int | None, typer.Option("--triton-grpc-port", help="Triton gRPC port [8001]")]
MetricsPort = Annotated[
    int | None, typer.Option("--triton-metrics-port", help="Triton metrics port [8002]")
]
Repositories = Annotated[
    list[Path] | None,
    typer.Option("--model-repository", help="Repository to serve (repeat); default: both of ours"),
]


def _settings(**overrides: object):
    """Settings from the environment, with the options given on the command line on top."""
    from docserve.api.settings import Settings

    return Settings(**{key: value for key, value in overrides.items() if value})


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def _fail(error: Exception) -> typer.Exit:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)



@server_app.command()
def triton(
    triton_http_port: HttpPort = None,
    triton_grpc_port: GrpcPort = None,
    triton_metrics_port: MetricsPort = None,
    model_repository: Repositories = None,
) -> None:
    """Run the embedded Triton server with docserve's repositories until Ctrl-C / SIGTERM."""
    from docserve.api.embedded_triton import EmbeddedTriton, EmbeddedTritonError
    from docserve.api.server import run_triton
    from docserve.contract.model_repositories import ModelRepositoriesNotFoundError

    settings = _settings(
        triton_http_port=triton_http_port, triton_grpc_port=triton_grpc_port,
        triton_metrics_port=triton_metrics_port, model_repositories=model_repository,
    )

    def announce(server: EmbeddedTriton) -> None:
        typer.echo(
            f"Triton ready: HTTP http://{server.http_url}  gRPC {server.grpc_url}  "
            f"metrics http://{settings.triton_host}:{settings.triton_metrics_port}/metrics"
        )

    try:
        code = run_triton(settings, announce)
    except (EmbeddedTritonError, ModelRepositoriesNotFoundError) as error:
        raise _fail(error) from error
    raise typer.Exit(code=code)


@server_app.command()
def serve(
    port: Annotated[int | None, typer.Option("--port", help="Gateway port [8080]")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Gateway address [127.0.0.1]")] = None,
    triton_http_port: HttpPort = None,
    triton_grpc_port: GrpcPort = None,
    triton_metrics_port: MetricsPort = None,
    model_repository: Repositories = None,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Allow a non-loopback --host without API keys (DOCSERVE_API_KEYS_FILE)",
    )] = False,
) -> None:
    """Run embedded Triton and the gateway together; Ctrl-C stops both cleanly."""
    from docserve.api.embedded_triton import EmbeddedTritonError
    from docserve.api.server import serve as serve_both
    from docserve.contract.model_repositories import ModelRepositoriesNotFoundError

    settings = _settings(
        port=port, host=host, triton_http_port=triton_http_port, triton_grpc_port=triton_grpc_port,
        triton_metrics_port=triton_metrics_port, model_repositories=model_repository,
    )
    if not _is_loopback(settings.host) and settings.api_keys_file is None and not insecure:
        raise _fail(ValueError(
            f"refusing to serve on {settings.host} without API keys: anyone who can reach it could use "
            "it. Create keys (docserve keys create NAME) and set DOCSERVE_API_KEYS_FILE, or pass --insecure"
        ))
    try:
        code = serve_both(settings)
    except (EmbeddedTritonError, ModelRepositoriesNotFoundError) as error:
        raise _fail(error) from error
    raise typer.Exit(code=code)


@server_app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", help="Jobs in flight [DOCSERVE_WORKER_CONCURRENCY]")
    ] = None,
) -> None:
    """Run job workers without the gateway (the gateway's SQLite store, or with DOCSERVE_QUEUE=kafka a
    member of the request topic's consumer group)."""
    from docserve.api.worker_process import main

    main(_settings(worker_concurrency=concurrency))


models_app = typer.Typer(help="Model versions on the live Triton: list, add, promote (gated), rollback, pin.",
                         no_args_is_help=True)
server_app.add_typer(models_app, name="models")
TritonHttpOption = Annotated[
    str, typer.Option("--triton-url", envvar="DOCSERVE_TRITON_HTTP_URL", help="Triton HTTP host:port"),
]


def _lifecycle(triton_url: str, repositories: list[Path] | None):
    from docserve.api.model_lifecycle import ModelLifecycle
    from docserve.contract.model_repositories import ModelRepositoriesNotFoundError

    try:
        return ModelLifecycle(repositories or _settings().served_repositories, triton_url)
    except ModelRepositoriesNotFoundError as error:
        raise _fail(error) from error


def _refused(error: Exception) -> typer.Exit:
    typer.secho(f"refused: {error}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


@models_app.command("list")
def models_list(
    triton_url: TritonHttpOption = "localhost:8000", model_repository: Repositories = None,
) -> None:
    """Every model: versions on disk, loaded in Triton, pinned, and the pipelines that use it."""
    for model in _lifecycle(triton_url, model_repository).all_versions():
        typer.echo(f"{model.name:<28} disk {','.join(map(str, model.on_disk)) or '-':<8} "
                   f"loaded {','.join(map(str, model.loaded)) or '-':<6} "
                   f"pinned {model.pinned or '-':<4} used by {', '.join(model.used_by) or '-'}")


@models_app.command("add")
def models_add(
    model: Annotated[str, typer.Argument()],
    source: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="A version folder")],
    triton_url: TritonHttpOption = "localhost:8000", model_repository: Repositories = None,
) -> None:
    """Copy a version folder in as the model's next version (not live until promoted)."""
    from docserve.api.model_lifecycle import ModelLifecycleError

    try:
        version = _lifecycle(triton_url, model_repository).add(model, source)
    except ModelLifecycleError as error:
        raise _fail(error) from error
    typer.echo(f"{model}: added version {version}; make it live: docserve models promote {model} {version}")


@models_app.command("promote")
def models_promote(
    model: Annotated[str, typer.Argument()], version: Annotated[int, typer.Argument()],
    triton_url: TritonHttpOption = "localhost:8000", model_repository: Repositories = None,
) -> None:
    """Gate VERSION on the model's golden set against the live version, then make it live."""
    from docserve.api.model_lifecycle import ModelLifecycleError

    try:
        gate = _lifecycle(triton_url, model_repository).promote(model, version)
    except ModelLifecycleError as error:
        raise _refused(error) from error
    typer.echo(f"{model}: version {version} is live ({gate.describe()})")


@models_app.command("rollback")
def models_rollback(
    model: Annotated[str, typer.Argument()],
    triton_url: TritonHttpOption = "localhost:8000", model_repository: Repositories = None,
) -> None:
    """Make the version that was live before the current one live again."""
    from docserve.api.model_lifecycle import ModelLifecycleError

    try:
        version = _lifecycle(triton_url, model_repository).rollback(model)
    except ModelLifecycleError as error:
        raise _refused(error) from error
    typer.echo(f"{model}: rolled back to version {version}")


@models_app.command("pin")
def models_pin(
    model: Annotated[str, typer.Argument()], version: Annotated[int, typer.Argument()],
    triton_url: TritonHttpOption = "localhost:8000", model_repository: Repositories = None,
) -> None:
    """Make VERSION live without the gate (an operator's decision)."""
    from docserve.api.model_lifecycle import ModelLifecycleError

    try:
        _lifecycle(triton_url, model_repository).pin(model, version)
    except ModelLifecycleError as error:
        raise _refused(error) from error
    typer.echo(f"{model}: version {version} is live (pinned)")


keys_app = typer.Typer(help="API keys of the gateway (DOCSERVE_API_KEYS_FILE).", no_args_is_help=True)
server_app.add_typer(keys_app, name="keys")
KeysFileOption = Annotated[
    Path | None,
    typer.Option("--file", help="Keys file [DOCSERVE_API_KEYS_FILE, else <data dir>/api-keys.json]"),
]


def _keys_file(path: Path | None):
    from docserve.api.api_keys import KeysFile, KeysFileError

    settings = _settings()
    try:
        return KeysFile.load(path or settings.api_keys_file or settings.data_dir / "api-keys.json")
    except KeysFileError as error:
        raise _fail(error) from error


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who the key is for (jobs remember it)")],
    rate_per_minute: Annotated[int | None, typer.Option(min=1, help="Requests per minute [no limit]")] = None,
    file: KeysFileOption = None,
) -> None:
    """Create a key; it is printed once (only its hash is stored)."""
    from docserve.api.api_keys import KeysFileError

    keys = _keys_file(file)
    try:
        key = keys.create(name, rate_per_minute)
    except KeysFileError as error:
        raise _fail(error) from error
    typer.echo(key)
    typer.echo(f"key {name!r} added to {keys.path}; the gateway needs DOCSERVE_API_KEYS_FILE={keys.path}",
               err=True)


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Argument()], file: KeysFileOption = None) -> None:
    """Revoke a key (a running gateway notices within a second)."""
    from docserve.api.api_keys import KeysFileError

    keys = _keys_file(file)
    try:
        keys.revoke(name)
    except KeysFileError as error:
        raise _fail(error) from error
    typer.echo(f"key {name!r} revoked")


@keys_app.command("list")
def keys_list(file: KeysFileOption = None) -> None:
    """Every key: name, created, rate, revoked (never the key)."""
    import datetime

    for key in _keys_file(file).keys:
        created = datetime.datetime.fromtimestamp(key.created_at, tz=datetime.timezone.utc)
        rate = f"{key.rate_per_minute}/min" if key.rate_per_minute else "no limit"
        state = "revoked" if key.revoked else "active"
        typer.echo(f"{key.name:<24} {created:%Y-%m-%d %H:%M}Z  {rate:<10} {state}")
