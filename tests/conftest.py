"""Session-wide fixtures: ONE real embedded Triton per pytest run, serving both repositories."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import tritonclient.http as httpclient
from sample_documents import FIXTURE_REPOSITORY

from docserve.api.embedded_triton import EmbeddedTriton, TritonOptions, TritonPorts, free_port
from docserve.api.settings import PROJECT_ROOT, Settings

MODEL_REPOSITORIES = [PROJECT_ROOT / "model_repository", PROJECT_ROOT / "ensembles"]


@pytest.fixture(scope="session")
def best_car() -> dict[str, str]:
    """A car the rule table rates 'vgood'."""
    return {"buying": "low", "maint": "low", "doors": "4", "persons": "more",
            "lug_boot": "big", "safety": "high"}


@pytest.fixture(scope="session")
def worst_car() -> dict[str, str]:
    """A car the rule table rates 'unacc'."""
    return {"buying": "vhigh", "maint": "vhigh", "doors": "2", "persons": "2",
            "lug_boot": "small", "safety": "low"}


def triton_log_path(work_dir: Path) -> Path:
    return work_dir / "tritonserver.log"


@pytest.fixture(scope="session")
def scratch_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A third, initially empty repository of the session's Triton, for tests that add models
    and load them through Triton's model-control API (rollouts, live discovery)."""
    return tmp_path_factory.mktemp("scratch_repository")


@pytest.fixture(scope="session")
def triton(tmp_path_factory: pytest.TempPathFactory, scratch_repository: Path) -> Iterator[EmbeddedTriton]:
    """The real Triton 2.51 from nvidia-pytriton, with every model of the repository loaded."""
    work_dir = tmp_path_factory.mktemp("triton")
    log = triton_log_path(work_dir).open("w", encoding="utf-8")
    server = EmbeddedTriton(
        TritonOptions(
            model_repositories=[*MODEL_REPOSITORIES, scratch_repository],
            work_dir=work_dir,
            ports=TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port()),
        ),
        log_sink=lambda line: print(line, file=log, flush=True),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        log.close()


@pytest.fixture(scope="session")
def triton_settings(triton: EmbeddedTriton, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Gateway settings pointing at the session's Triton."""
    ports = triton.options.ports
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        triton_http_port=ports.http,
        triton_grpc_port=ports.grpc,
        triton_metrics_port=ports.metrics,
        log_json=False,
    )


@pytest.fixture(scope="session")
def probe_pipeline(triton, scratch_repository: Path) -> str:
    """A minimal real document pipeline (page size + checksum) loaded into the session's Triton."""
    client = httpclient.InferenceServerClient(triton.http_url)
    for model in ("page_probe", "page_probe_pipeline"):
        shutil.copytree(FIXTURE_REPOSITORY / model, scratch_repository / model, dirs_exist_ok=True)
        client.load_model(model)
    return "page_probe_pipeline"
