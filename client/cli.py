"""The client's commands: send documents to a gateway (or straight to Triton) and read results.

Only the REST and Triton clients are used here; nothing of the server runs in this process.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

client_app = typer.Typer()


def _fail(error: Exception) -> typer.Exit:
    from docserve.contract.errors import DocserveError

    text = str(error)
    if isinstance(error, DocserveError):  # the gateway's answer: its status and code too
        text = f"{error.status_code} {error.code}: {error.message}"
    typer.secho(f"error: {text}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)



GatewayOption = Annotated[
    str, typer.Option("--url", envvar="DOCSERVE_URL", help="Gateway base URL")
]
ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", envvar="DOCSERVE_API_KEY", help="Key for a gateway with API keys"),
]
TritonOption = Annotated[
    str, typer.Option("--triton", envvar="DOCSERVE_TRITON_URL", help="Triton gRPC host:port")
]


@client_app.command()
def submit(
    sources: Annotated[list[str], typer.Argument(help="Files, folders or URLs (http(s)://, s3://)")],
    pipeline: Annotated[str, typer.Option("--pipeline", "-p", help="Pipeline name")],
    via: Annotated[str, typer.Option(
        "--via", help="rest (jobs API), grpc (Triton direct) or kafka (request/result topics)")] = "rest",
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1)] = 8,
    out: Annotated[Path | None, typer.Option("--out", help="Write results as JSON lines")] = None,
    url: GatewayOption = "http://localhost:8080",
    triton_url: TritonOption = "localhost:8001",
    api_key: ApiKeyOption = None,
    kafka_bootstrap_servers: Annotated[str | None, typer.Option(
        "--kafka-bootstrap-servers", envvar="DOCSERVE_KAFKA_BOOTSTRAP_SERVERS", help="--via kafka")] = None,
    schema_registry_url: Annotated[str | None, typer.Option(
        "--schema-registry-url", envvar="DOCSERVE_SCHEMA_REGISTRY_URL", help="--via kafka")] = None,
    request_topic: Annotated[str, typer.Option(
        "--request-topic", envvar="DOCSERVE_KAFKA_REQUEST_TOPIC")] = "docserve.requests",
    result_topic: Annotated[str, typer.Option(
        "--result-topic", envvar="DOCSERVE_KAFKA_RESULT_TOPIC")] = "docserve.results",
    timeout_s: Annotated[float, typer.Option("--timeout", help="--via kafka: seconds to wait for results")]
    = 3600.0,
) -> None:
    """Analyse many documents; exit code 1 if any failed."""
    from rich.console import Console
    from rich.table import Table

    from docserve.client.batch import KafkaTarget, collect, run
    from docserve.processing.document_pages import PageLimits

    if via not in ("rest", "grpc", "kafka"):
        raise typer.BadParameter("--via must be rest, grpc or kafka")
    kafka = None
    if via == "kafka":
        if not (kafka_bootstrap_servers and schema_registry_url):
            raise typer.BadParameter("--via kafka needs --kafka-bootstrap-servers and --schema-registry-url")
        kafka = KafkaTarget(kafka_bootstrap_servers, schema_registry_url, request_topic, result_topic,
                            timeout_s)
    documents = collect(sources)
    if not documents:
        raise _fail(ValueError("no documents found (PDF, PNG, JPEG, TIFF)"))
    with out.open("w", encoding="utf-8") if out else contextlib.nullcontext() as handle:
        summary = run(documents, pipeline, via, concurrency, url, triton_url, PageLimits(), handle,
                      api_key, kafka)
    console = Console()
    table = Table(title=f"{pipeline} via {via}")
    for column in ("documents", "pages", "ok", "failed", "seconds", "pages/s"):
        table.add_column(column, justify="right")
    ok = len(summary.outcomes) - len(summary.failed)
    rate = summary.pages / summary.seconds if summary.seconds else 0.0
    table.add_row(str(len(summary.outcomes)), str(summary.pages), str(ok), str(len(summary.failed)),
                  f"{summary.seconds:.1f}", f"{rate:.2f}")
    console.print(table)
    for failure in summary.failed:
        console.print(f"[red]failed[/red] {failure.source}: {failure.error}")
    if summary.failed:
        raise typer.Exit(code=1)


@client_app.command()
def predict(
    document: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="PDF, PNG, JPEG, TIFF")],
    pipeline: Annotated[str, typer.Option("--pipeline", "-p")],
    url: GatewayOption = "http://localhost:8080",
    api_key: ApiKeyOption = None,
) -> None:
    """Analyse one document synchronously and print the JSON result."""
    from docserve.client.rest import DocServeClient
    from docserve.contract.errors import DocserveError

    try:
        with DocServeClient(url, api_key=api_key) as client:
            typer.echo(client.predict(document, pipeline).model_dump_json(indent=2))
    except DocserveError as error:
        raise _fail(error) from error


@client_app.command()
def pipelines(url: GatewayOption = "http://localhost:8080", api_key: ApiKeyOption = None) -> None:
    """List the document pipelines the gateway finds in Triton."""
    from docserve.client.rest import DocServeClient
    from docserve.contract.errors import DocserveError

    try:
        with DocServeClient(url, api_key=api_key) as client:
            for pipeline in client.pipelines():
                versions = ",".join(pipeline["versions"])
                typer.echo(f"{pipeline['name']:<24} v{versions}  {pipeline['description']}")
    except DocserveError as error:
        raise _fail(error) from error
