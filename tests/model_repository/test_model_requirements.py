"""The production image's promise: model_repository/requirements.txt is all the python models need.

docker/triton.Dockerfile installs exactly that list (and docserve itself without dependencies) on
the official Triton image. No Docker daemon runs here, so this test does the same into a fresh
virtualenv, starts the embedded Triton with its python-backend stubs running in that environment
(``stub_python_bin``), and runs every pipeline once: a model importing a package the list lacks
fails to load or to run, and so does this test.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from fresh_environments import build_wheel, create_venv

from docserve.api.embedded_triton import EmbeddedTriton, TritonOptions, TritonPorts, free_port
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.contract.page_result import PageResult
from docserve.export.documents.generator import generate_page

REQUIREMENTS = PROJECT_ROOT / "model_repository" / "requirements.txt"
DOCKERFILE = PROJECT_ROOT / "docker" / "triton.Dockerfile"
DOCUMENT_PIPELINES = ("ocr", "form_intake", "checkbox_form", "signature_check", "document_full")


def requirement_names(text: str) -> set[str]:
    return {re.split(r"[<>=\[ ;#]", line.strip(), maxsplit=1)[0].lower()
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}


def test_the_dockerfile_installs_the_list_and_builds_the_ocr_weights():
    dockerfile = DOCKERFILE.read_text()
    installs = re.findall(r"pip install[^\n&]*", dockerfile)
    assert "pip install --no-cache-dir -r requirements.txt" in installs
    assert "COPY model_repository/requirements.txt ./requirements.txt" in dockerfile
    # Every other install in the Triton stage is docserve itself, without dependencies.
    triton_stage = dockerfile[dockerfile.index("FROM nvcr.io"):]
    assert re.findall(r"pip install[^\n&]*", triton_stage) == [
        "pip install --no-cache-dir -r requirements.txt", "pip install --no-cache-dir --no-deps ."]
    assert "docserve export ocr --repository model_repository" in dockerfile
    assert "docserve export orientation --repository model_repository" in dockerfile
    assert "COPY --from=weights /src/model_repository /models/model_repository" in dockerfile


def test_every_listed_requirement_is_a_dependency_of_docserve():
    """The serving install (pyproject) never lacks what the image has."""
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    dependencies = pyproject[pyproject.index("dependencies = ["):pyproject.index("[project.optional")]
    declared = {name.strip('"') for name in re.findall(r'^\s*"([A-Za-z0-9_.-]+)', dependencies, re.M)}
    assert requirement_names(REQUIREMENTS.read_text()) <= {name.lower() for name in declared}


@pytest.fixture(scope="module")
def models_only_environment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models_only")
    wheel = build_wheel(root / "wheel")
    return create_venv(root / "venv", ["-r", str(REQUIREMENTS)], ["--no-deps", str(wheel)])


@pytest.fixture(scope="module")
def triton_on_the_list(models_only_environment: Path, tmp_path_factory: pytest.TempPathFactory):
    server = EmbeddedTriton(
        TritonOptions(
            model_repositories=[PROJECT_ROOT / "model_repository", PROJECT_ROOT / "ensembles"],
            work_dir=tmp_path_factory.mktemp("triton_on_the_list"),
            ports=TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port()),
            stub_python_bin=models_only_environment,
        ),
        log_sink=lambda line: None,
    )
    with server:
        yield server


def _form_page_png() -> bytes:
    import io

    from PIL import Image

    seed = 10_000_000
    while (page := generate_page(seed)).truth.document_type != "application_form":
        seed += 1
    buffer = io.BytesIO()
    Image.fromarray(page.image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_stubs_run_in_the_models_only_environment(triton_on_the_list, models_only_environment):
    venv = models_only_environment.parent
    stub_environment = (Path(f"/proc/{triton_on_the_list.pid}/environ").read_bytes().split(b"\0"))
    path = next(item for item in stub_environment if item.startswith(b"PATH="))
    assert path.decode().removeprefix("PATH=").split(":")[0] == str(venv / "bin")
    assert not list(venv.glob("lib/python3*/site-packages/fastapi")), "only the list, not serving deps"


def test_every_pipeline_runs_on_exactly_the_listed_requirements(triton_on_the_list):
    client = grpcclient.InferenceServerClient(triton_on_the_list.grpc_url)
    page = _form_page_png()
    for pipeline in DOCUMENT_PIPELINES:
        tensor = grpcclient.InferInput("page_image_bytes", [1], "BYTES")
        tensor.set_data_from_numpy(np.array([page], dtype=np.object_))
        result = client.infer(pipeline, [tensor],
                              parameters={"expected_document_types": "application_form"},
                              outputs=[grpcclient.InferRequestedOutput("page_result_json")])
        page_result = PageResult.model_validate_json(result.as_numpy("page_result_json")[0])
        assert page_result.page.width > 0, pipeline
        if pipeline in ("ocr", "form_intake", "document_full"):
            assert page_result.text is not None and page_result.text.lines, pipeline
    car = {"buying": "low", "maint": "low", "doors": "4", "persons": "more", "lug_boot": "big",
           "safety": "high"}
    inputs = []
    for name, value in car.items():
        tensor = grpcclient.InferInput(name, [1, 1], "BYTES")
        tensor.set_data_from_numpy(np.array([[value.encode()]], dtype=np.object_))
        inputs.append(tensor)
    assert client.infer("car_evaluation", inputs).as_numpy("predicted_label")[0, 0] == b"vgood"
