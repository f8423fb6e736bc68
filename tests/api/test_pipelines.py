"""Pipelines: live discovery from Triton and synchronous analysis (upload or location)."""

from __future__ import annotations

import asyncio
import io
import os
import shutil

import numpy as np
import pytest
import tritonclient.grpc.aio as grpcaio
import tritonclient.http as httpclient
from fastapi.testclient import TestClient
from job_polling import wait_for_job
from PIL import Image
from sample_documents import FIXTURE_REPOSITORY, pdf_document, png_page

from docserve.api.app import create_app
from docserve.contract.errors import InferenceError, TritonUnavailableError
from docserve.inference.pipelines import Pipeline, PipelineCatalog, analyze_page
from docserve.inference.triton_client import ModelState, TritonClient


@pytest.fixture
def pipelines_api(jobs_settings, probe_pipeline):
    settings = jobs_settings.model_copy(update={"run_workers": False, "pipeline_cache_ttl_s": 0})
    with TestClient(create_app(settings)) as client:
        yield client


def test_lists_document_pipelines_only(pipelines_api):
    pipelines = {p["name"]: p for p in pipelines_api.get("/api/v1/pipelines").json()}
    assert "car_evaluation" not in pipelines  # not a document pipeline
    assert "page_ocr" not in pipelines  # an ensemble of ensembles/, but it takes a decoded page
    probe = pipelines["page_probe_pipeline"]
    assert probe["description"] == "test pipeline: page size and checksum"
    assert probe["inputs"] == [{"name": "page_image_bytes", "datatype": "STRING", "dims": ["1"]}]


def test_a_new_ensemble_appears_without_restarting_the_gateway(pipelines_api, triton, scratch_repository):
    before = {p["name"] for p in pipelines_api.get("/api/v1/pipelines").json()}
    assert "page_probe_copy" not in before
    config = (FIXTURE_REPOSITORY / "page_probe_pipeline" / "config.pbtxt").read_text()
    target = scratch_repository / "page_probe_copy"
    shutil.copytree(FIXTURE_REPOSITORY / "page_probe_pipeline", target)
    (target / "config.pbtxt").write_text(config.replace('"page_probe_pipeline"', '"page_probe_copy"'))
    client = httpclient.InferenceServerClient(triton.http_url)
    client.load_model("page_probe_copy")
    try:
        after = {p["name"] for p in pipelines_api.get("/api/v1/pipelines").json()}
        assert after == before | {"page_probe_copy"}
        response = pipelines_api.post(
            "/api/v1/pipelines/page_probe_copy/predict", files={"document": ("p.png", png_page(5, 6))}
        )
        assert response.status_code == 200
    finally:
        client.unload_model("page_probe_copy")
    assert "page_probe_copy" not in {p["name"] for p in pipelines_api.get("/api/v1/pipelines").json()}


def test_upload_of_an_image(pipelines_api):
    response = pipelines_api.post(
        "/api/v1/pipelines/page_probe_pipeline/predict", files={"document": ("scan.png", png_page(64, 32))}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pipeline"] == "page_probe_pipeline" and body["page_count"] == 1
    assert body["pages"][0]["result"]["page"]["width"] == 64


def test_upload_of_a_pdf_with_selected_pages(pipelines_api):
    document = pdf_document([(72, 72), (144, 72), (72, 144)])
    response = pipelines_api.post(
        "/api/v1/pipelines/page_probe_pipeline/predict",
        files={"document": ("three.pdf", document, "application/pdf")}, data={"pages": "2,3"},
    )
    assert response.status_code == 200, response.text
    pages = response.json()["pages"]
    assert [(p["page"], p["result"]["page"]["width"], p["result"]["page"]["height"]) for p in pages] == [
        (2, 300, 150), (3, 150, 300)
    ]


def test_location_body(pipelines_api, inbox):
    (inbox / "doc.png").write_bytes(png_page(10, 20))
    response = pipelines_api.post(
        "/api/v1/pipelines/page_probe_pipeline/predict", json={"location": f"file://{inbox}/doc.png"}
    )
    assert response.status_code == 200
    assert response.json()["pages"][0]["result"]["page"]["height"] == 20


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"location": "file:///etc/passwd"}}, 422, "location_refused"),
        ({"json": {"where": "x"}}, 422, "validation_error"),
        ({"content": b"raw bytes", "headers": {"content-type": "image/png"}}, 415, "unsupported_media_type"),
        ({"files": {"other": ("a.png", b"x")}}, 422, "invalid_document"),
        ({"files": {"document": ("a.txt", b"hello")}}, 415, "unsupported_document"),
        ({"files": {"document": ("a.png", b"\x89PNG\r\n\x1a\n broken")}}, 422, "invalid_document"),
        ({"files": {"document": ("a.png", png_page())}, "data": {"pages": "2"}}, 422, "invalid_document"),
        ({"files": {"document": ("a.png", png_page())}, "data": {"pages": "one"}}, 422, "invalid_document"),
    ],
)
def test_bad_requests_get_typed_errors(pipelines_api, kwargs, status, code):
    response = pipelines_api.post("/api/v1/pipelines/page_probe_pipeline/predict", **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_a_page_a_step_refuses_is_invalid_document_as_when_the_gateway_refuses_it(jobs_settings, inbox):
    """The gateway reads a page's header only; page_decode decodes it and refuses one whose
    pixels are cut short (Triton's INVALID_ARGUMENT): the same 422 invalid_document, predicted or
    as a job."""
    buffer = io.BytesIO()
    Image.effect_noise((300, 200), 60).save(buffer, format="JPEG")
    truncated = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    (inbox / "truncated.jpg").write_bytes(truncated)
    with TestClient(create_app(jobs_settings)) as client:
        response = client.post("/api/v1/pipelines/signature_check/predict",
                               files={"document": ("truncated.jpg", truncated)})
        client.post("/api/v1/jobs", json={"request_id": "truncated-1", "pipeline": "signature_check",
                                          "location": f"file://{inbox}/truncated.jpg"})
        job = wait_for_job(client, "truncated-1")
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_document"
    assert error["message"].startswith("page 1: corrupt JPEG image"), error
    assert (job["status"], job["error"]["code"], job["attempts"]) == ("failed", "invalid_document", 1)


def test_unknown_pipeline_is_404(pipelines_api):
    response = pipelines_api.post("/api/v1/pipelines/nope/predict", files={"document": ("a.png", png_page())})
    assert response.status_code == 404


def test_limits_on_bytes_pages_and_pixels(jobs_settings, probe_pipeline):
    settings = jobs_settings.model_copy(update={
        "run_workers": False, "max_document_bytes": 20_000, "max_pages": 2, "max_page_pixels": 1_000_000,
    })
    url = "/api/v1/pipelines/page_probe_pipeline/predict"
    with TestClient(create_app(settings)) as client:
        noisy = os.urandom(30_000)
        too_big = client.post(url, files={"document": ("big.png", b"\x89PNG\r\n\x1a\n" + noisy)})
        assert too_big.status_code == 413
        too_many = client.post(url, files={"document": ("p.pdf", pdf_document([(72, 72)] * 3))})
        assert too_many.status_code == 413 and "3 pages" in too_many.json()["error"]["message"]
        too_wide = client.post(url, files={"document": ("w.png", png_page(2000, 600))})
        assert too_wide.status_code == 413 and "2000x600" in too_wide.json()["error"]["message"]


class _TritonAnswering:
    """Stands in for TritonClient in one unit test: answers every page with ``raw``."""

    def __init__(self, raw: bytes):
        self.raw = raw

    async def infer(self, *args, **kwargs):
        raw = self.raw

        class Result:
            def as_numpy(self, name):
                return np.array([raw], dtype=np.object_)

        return Result()


@pytest.mark.parametrize("raw", [b'{"lines": []}', b"not json"])
def test_a_result_off_the_page_schema_is_an_inference_error(raw):
    pipeline = Pipeline(name="custom", description="", versions=["1"], inputs=[], outputs=[], batched=False)
    with pytest.raises(InferenceError, match="not a page result"):
        asyncio.run(analyze_page(_TritonAnswering(raw), pipeline, b"page"))


# -- discovery: one concurrent look at the configs of what changed ---------------------------------


class _CountingTriton:
    """The real Triton client, counting the configs read and how many were read at once."""

    def __init__(self, client: TritonClient):
        self.client = client
        self.configs: list[str] = []
        self.in_flight = self.most_in_flight = 0

    async def model_states(self):
        return await self.client.model_states()

    async def model_config(self, model: str):
        self.configs.append(model)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await self.client.model_config(model)
        finally:
            self.in_flight -= 1


def test_discovery_reads_only_new_or_changed_configs_at_once(triton, probe_pipeline, scratch_repository):
    config = (FIXTURE_REPOSITORY / "page_probe_pipeline" / "config.pbtxt").read_text()
    target = scratch_repository / "page_probe_discovered"
    shutil.copytree(FIXTURE_REPOSITORY / "page_probe_pipeline", target, dirs_exist_ok=True)
    (target / "config.pbtxt").write_text(config.replace('"page_probe_pipeline"', '"page_probe_discovered"'))

    async def scenario():
        client, loader = TritonClient(triton.grpc_url), grpcaio.InferenceServerClient(triton.grpc_url)
        counting = _CountingTriton(client)
        catalog = PipelineCatalog(counting, ttl_s=0)
        try:
            first = [pipeline.name for pipeline in await catalog.all()]
            ready = [state.name for state in await client.model_states() if state.state == "READY"]
            assert sorted(counting.configs) == ready and counting.most_in_flight > 1  # all at once
            assert first == sorted(first) and probe_pipeline in first

            counting.configs.clear()
            assert [pipeline.name for pipeline in await catalog.all()] == first
            assert counting.configs == []  # nothing changed: no config read

            await loader.load_model("page_probe_discovered")
            discovered = {pipeline.name: pipeline for pipeline in await catalog.all()}
            assert counting.configs == ["page_probe_discovered"]
            assert discovered["page_probe_discovered"].description == "test pipeline: page size and checksum"

            counting.configs.clear()
            await loader.unload_model("page_probe_discovered")
            assert [pipeline.name for pipeline in await catalog.all()] == first
            assert counting.configs == []
        finally:
            await loader.unload_model("page_probe_discovered")
            await loader.close()
            await client.close()

    asyncio.run(scenario())


class _IndexOnly:
    """Stands in for TritonClient: a repository index and configs the test changes, or an outage."""

    def __init__(self, states: list[ModelState]):
        self.states = states
        self.configs: list[str] = []
        self.down = False

    async def model_states(self):
        if self.down:
            raise TritonUnavailableError("Triton is unavailable")
        return self.states

    async def model_config(self, model: str):
        self.configs.append(model)
        return {"platform": "ensemble", "max_batch_size": 0,
                "input": [{"name": "page_image_bytes", "data_type": "TYPE_STRING", "dims": ["1"]}],
                "output": [{"name": "page_result_json", "data_type": "TYPE_STRING", "dims": ["1"]}]}


def test_a_model_in_other_versions_is_read_again_and_an_outage_keeps_the_last_pipelines():
    triton = _IndexOnly([ModelState("a", ["1"], "READY"), ModelState("b", ["1"], "READY"),
                         ModelState("c", [], "UNAVAILABLE")])
    catalog = PipelineCatalog(triton, ttl_s=0)

    async def names():
        return [(pipeline.name, pipeline.versions) for pipeline in await catalog.all()]

    assert asyncio.run(names()) == [("a", ["1"]), ("b", ["1"])]
    assert triton.configs == ["a", "b"]  # not c: not READY
    triton.states = [ModelState("a", ["1"], "READY"), ModelState("b", ["2"], "READY")]
    assert asyncio.run(names()) == [("a", ["1"]), ("b", ["2"])]
    assert triton.configs == ["a", "b", "b"]
    triton.down = True
    assert asyncio.run(names()) == [("a", ["1"]), ("b", ["2"])]  # the pipelines seen last


def test_the_catalog_looks_again_only_after_its_ttl():
    triton = _IndexOnly([ModelState("a", ["1"], "READY")])
    catalog = PipelineCatalog(triton, ttl_s=60)
    asyncio.run(catalog.all())
    triton.states = [ModelState("a", ["1"], "READY"), ModelState("b", ["1"], "READY")]
    assert [pipeline.name for pipeline in asyncio.run(catalog.all())] == ["a"]  # cached: no look
    assert triton.configs == ["a"]
