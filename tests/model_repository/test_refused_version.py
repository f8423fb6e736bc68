"""A version the quality gate refused is never served, and leaves the gateway ready.

On a Triton of its own serving a copy of the car pipeline (the session's must not see a model
fail to load: Triton's own readiness stays false after that until it restarts): a corrupt
``model.onnx`` is added as version 2 of ``car_evaluation_model``, whose config serves "the newest
version"; promoting it is refused; then the model is reloaded every way it can be (the step
repair's forced reload, an operator's unload and load): version 1 goes on answering.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import tritonclient.http as httpclient
from fastapi.testclient import TestClient
from launched_service import copy_car_repository
from typer.testing import CliRunner

from docserve.api.app import create_app
from docserve.api.embedded_triton import EmbeddedTriton, TritonOptions, TritonPorts, free_port
from docserve.cli.main import app as cli
from docserve.inference.triton_client import TritonClient

MODEL = "car_evaluation_model"


@pytest.fixture
def car_triton(tmp_path: Path):
    repository = copy_car_repository(tmp_path / "repository")
    server = EmbeddedTriton(TritonOptions(
        model_repositories=[repository], work_dir=tmp_path / "triton",
        ports=TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port())), log_sink=lambda _: None)
    server.start()
    try:
        yield server, repository
    finally:
        server.stop()


def _reload_as_the_step_repair_does(triton: EmbeddedTriton) -> None:
    async def reload() -> None:
        client = TritonClient(triton.grpc_url)
        try:
            await client.reload_model(MODEL)
        finally:
            await client.close()

    asyncio.run(reload())


def test_a_refused_version_is_served_by_no_reload_and_readiness_holds(
        car_triton, triton_settings, best_car, tmp_path):
    triton, repository = car_triton
    corrupt = tmp_path / "corrupt_version"
    corrupt.mkdir()
    (corrupt / "model.onnx").write_bytes(b"not an ONNX model")
    common = ["--triton-url", triton.http_url, "--model-repository", str(repository)]
    settings = triton_settings.model_copy(update={
        "data_dir": tmp_path / "data", "triton_grpc_port": triton.options.ports.grpc,
        "triton_http_port": triton.options.ports.http})
    runner = CliRunner()
    with TestClient(create_app(settings)) as gateway:
        assert gateway.get("/readyz").status_code == 200

        added = runner.invoke(cli, ["models", "add", MODEL, str(corrupt), *common])
        assert added.exit_code == 0, added.output
        refused = runner.invoke(cli, ["models", "promote", MODEL, "2", *common])
        assert refused.exit_code == 1 and "does not load" in refused.output, refused.output
        # The refused candidate leaves Triton's own readiness false; the gateway's holds.
        assert gateway.get("/readyz").status_code == 200, gateway.get("/readyz").text

        _reload_as_the_step_repair_does(triton)
        operator = httpclient.InferenceServerClient(triton.http_url)
        try:
            operator.unload_model(MODEL)  # and its ensemble with it
            operator.load_model(MODEL)  # reads config.pbtxt from disk again
            operator.load_model("car_evaluation")
            index = [(entry["version"], entry["state"]) for entry in operator.get_model_repository_index()
                     if entry["name"] == MODEL]
        finally:
            operator.close()
        answer = gateway.post("/api/v1/predict", json={"inputs": [best_car]})
        ready = gateway.get("/readyz")
    assert index == [("1", "READY")]
    assert answer.status_code == 200 and answer.json()["model_version"] == "1", answer.text
    assert ready.status_code == 200, ready.text
    listed = runner.invoke(cli, ["models", "list", *common])
    line = next(line for line in listed.output.splitlines() if line.startswith(MODEL))
    assert "disk 1,2" in line and "loaded 1" in line and "pinned 1" in line, line
