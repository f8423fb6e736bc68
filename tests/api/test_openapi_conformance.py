"""Schemathesis over the gateway's OpenAPI, against a real uvicorn + the session's real Triton.

Every operation gets schema-valid (positive) and schema-invalid (negative) requests; positive job
and prediction requests are often made valid-looking (a served pipeline, a real file location, a
known job), so the runs reach past validation into the store, the workers and Triton. Bounded: a
fixed number of examples per operation and mode, well under two minutes. The figures are printed.

Checks: no 5xx; every status, content type, header and body documented in the OpenAPI; invalid
data rejected with 4xx; an undocumented method answered 405 with a true ``Allow``; ``DELETE`` of
a real queued job (on a second gateway, without workers, whose jobs stay queued).
``positive_data_acceptance`` applies only where the schema says all a valid request needs (the
car records: each value's enum is the model's vocabulary): elsewhere a schema-valid body can still
name a pipeline or job that does not exist (404), a refused location, or upload bytes that are no
document (the OpenAPI names those answers; the tests below hold the gateway to them).
"""

from __future__ import annotations

import collections
import io
from dataclasses import dataclass, field

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies
from hypothesis.errors import Unsatisfiable
from live_gateway import serve
from PIL import Image
from sample_documents import png_page
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from docserve.api.app import create_app
from docserve.processing.car_features import ATTRIBUTES

EXAMPLES = 50  # per operation and generation mode
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


@dataclass
class Tally:
    requests: int = 0
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: collections.Counter = field(default_factory=collections.Counter)


@dataclass
class Gateway:
    base: str  # with its workers: jobs run to their end
    location: str  # of a real page
    queued_base: str  # without workers: its jobs stay queued, so DELETE can cancel one
    made: int = 0

    def queued_job(self) -> str:
        """A fresh job, queued on the gateway without workers."""
        self.made += 1
        request_id = f"fuzz-queued-{self.made}"
        job = {"request_id": request_id, "pipeline": "page_probe_pipeline", "location": self.location}
        assert httpx.post(f"{self.queued_base}/api/v1/jobs", json=job).status_code == 202
        return request_id


@pytest.fixture
def gateway(jobs_settings, probe_pipeline, inbox, tmp_path):
    (inbox / "page.png").write_bytes(png_page(90, 60))
    settings = jobs_settings.model_copy(update={"worker_concurrency": 1})
    without_workers = jobs_settings.model_copy(update={"run_workers": False, "data_dir": tmp_path / "queued"})
    with serve(create_app(settings)) as (host, port), serve(create_app(without_workers)) as queued:
        base = f"http://{host}:{port}"
        known = {"request_id": KNOWN_JOB, "pipeline": "page_probe_pipeline",
                 "location": f"file://{inbox}/page.png"}
        assert httpx.post(f"{base}/api/v1/jobs", json=known).status_code == 202
        yield Gateway(base, known["location"], f"http://{queued[0]}:{queued[1]}")


KNOWN_JOB = "fuzz-known"  # submitted before the run: job routes answer 200 and 409 too
# Operations whose schema says all a valid request needs: schema-valid data must be accepted.
FULLY_DESCRIBED = {"POST /api/v1/predict"}


def _valid_looking(location: str):
    """Sometimes replace a generated body's pipeline and location, and the path's pipeline name
    and request id, by real ones."""
    def apply(pair):
        case, (pipeline, use_location) = pair
        if isinstance(case.body, dict):
            if pipeline and "pipeline" in case.body:
                case.body["pipeline"] = pipeline
            if use_location and "location" in case.body:
                case.body["location"] = location
        if pipeline and "name" in (case.path_parameters or {}):
            case.path_parameters["name"] = pipeline
        if use_location and "request_id" in (case.path_parameters or {}):
            case.path_parameters["request_id"] = KNOWN_JOB
        return case
    return apply


def _run(operation, mode: GenerationMode, gateway: Gateway, tally: Tally) -> None:
    choices = strategies.tuples(strategies.sampled_from([None, "page_probe_pipeline"]), strategies.booleans())
    strategy = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:  # a negative case must keep what makes it invalid
        strategy = strategies.tuples(strategy, choices).map(_valid_looking(gateway.location))
    label = f"{operation.method.upper()} {operation.path}"
    cancels = label == "DELETE /api/v1/jobs/{request_id}"  # a queued job of the gateway without workers
    checks = CHECKS + [positive_data_acceptance] * (label in FULLY_DESCRIBED)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def exercise(case) -> None:
        if cancels and (case.path_parameters or {}).get("request_id") == KNOWN_JOB:
            case.path_parameters["request_id"] = gateway.queued_job()
        response = case.call(base_url=gateway.queued_base if cancels else gateway.base, timeout=30)
        tally.requests += 1
        tally.statuses[f"{label} {response.status_code}"] += 1
        tally.server_errors += response.status_code >= 500
        try:
            case.validate_response(response, checks=checks)
        except (AssertionError, FailureGroup) as error:  # one check, or schemathesis' group of them
            tally.failures.append(f"{operation.label} [{mode.value}]: {str(error)[:600]}")

    try:
        exercise()
    except Unsatisfiable:  # nothing to make invalid: an operation without parameters or body
        assert mode is GenerationMode.NEGATIVE


def _undocumented_methods(schema, base: str, tally: Tally) -> None:
    """Each path with a method it does not serve: 405, and Allow names what it does serve."""
    documented = collections.defaultdict(set)
    for result in schema.get_all_operations():
        operation = result.ok()
        documented[operation.path].add(operation.method.upper())
    with httpx.Client(base_url=base, timeout=30) as client:
        for path, methods in documented.items():
            concrete = path.replace("{name}", "page_probe_pipeline").replace("{request_id}", "x")
            for method in {"PUT", "PATCH", "DELETE", "POST"} - methods:
                response = client.request(method, concrete)
                tally.requests += 1
                allow = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
                if response.status_code != 405 or allow != methods or "error" not in response.json():
                    tally.failures.append(f"{method} {path}: {response.status_code} Allow={allow}")


def test_schemathesis_finds_no_server_error_and_no_conformance_failure(gateway, capsys):
    schema = schemathesis.openapi.from_url(f"{gateway.base}/openapi.json")
    tally = Tally()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(operation, mode, gateway, tally)
    _undocumented_methods(schema, gateway.base, tally)
    with capsys.disabled():
        print(f"\nschemathesis: {tally.requests} requests, {tally.server_errors} server errors, "
              f"{len(tally.failures)} conformance failures")
        for line, count in sorted(tally.statuses.items()):
            print(f"  {line}: {count}")
    assert tally.server_errors == 0
    assert tally.failures == [], "\n".join(tally.failures[:20])
    assert tally.statuses["DELETE /api/v1/jobs/{request_id} 200"] > 0  # a real queued job was cancelled


# -- what a schema cannot say, the OpenAPI names: the gateway answers as documented ----------------


@pytest.fixture
def documented(jobs_settings, probe_pipeline):
    """A gateway (no workers) and its OpenAPI."""
    with TestClient(create_app(jobs_settings.model_copy(update={"run_workers": False}))) as client:
        yield client, client.get("/openapi.json").json()


def _documented_answers(openapi: dict, method: str, path: str, status: int) -> set[tuple[int, str]]:
    """(status, code) of every example the OpenAPI gives for this operation's ``status``."""
    response = openapi["paths"][path][method]["responses"].get(str(status), {})
    examples = response.get("content", {}).get("application/json", {}).get("examples", {})
    return {(status, example["value"]["error"]["code"]) for example in examples.values()}


def _webp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(buffer, format="WEBP")
    return buffer.getvalue()


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("document", [_webp(), b"\xe5\xc7\\\x87\xa1" * 40, _png((1, 1))],
                         ids=["webp", "random-bytes", "1x1-png"])
def test_uploads_a_schema_cannot_refuse_get_the_documented_answers(documented, document):
    client, openapi = documented
    for path, data in (("/api/v1/pipelines/{name}/predict", {}),
                       ("/api/v1/jobs", {"request_id": "upload-1", "pipeline": "signature_check"})):
        response = client.post(path.replace("{name}", "signature_check"), data=data,
                               files={"document": ("document", document)})
        answer = (response.status_code, response.json()["error"]["code"])
        assert answer in _documented_answers(openapi, "post", path, response.status_code), (path, answer)


def test_car_values_outside_the_vocabulary_are_outside_the_schema_and_a_documented_400(documented, best_car):
    client, openapi = documented
    record = openapi["components"]["schemas"]["CarRecord"]["properties"]
    assert {name: tuple(field["enum"]) for name, field in record.items()} == ATTRIBUTES
    response = client.post("/api/v1/predict", json={"inputs": [{**best_car, "buying": "cheap"}]})
    answer = (response.status_code, response.json()["error"]["code"])
    assert answer == (400, "invalid_input")
    assert answer in _documented_answers(openapi, "post", "/api/v1/predict", 400)


def test_the_openapi_examples_are_accepted_under_the_default_settings(triton_settings, tmp_path):
    settings = triton_settings.model_copy(update={"data_dir": tmp_path / "data", "run_workers": False})
    assert settings.file_roots is None  # the default: <data dir>/inbox
    with TestClient(create_app(settings)) as client:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        (job,) = schemas["JobSubmission"]["examples"]
        (cars,) = schemas["CarPredictRequest"]["examples"]
        assert client.post("/api/v1/jobs", json=job).status_code == 202
        assert client.post("/api/v1/predict", json=cars).status_code == 200


@pytest.mark.parametrize("unknown", [1, 13])  # 13: more than either route's parser reads
def test_multipart_fields_a_route_does_not_take_are_one_documented_422(documented, unknown):
    client, openapi = documented
    extra = {f"extra-{index}": "x" for index in range(unknown)}
    for path, data in (("/api/v1/pipelines/page_probe_pipeline/predict", {}),
                       ("/api/v1/jobs", {"request_id": "fields-1", "pipeline": "page_probe_pipeline"})):
        response = client.post(path, data={**data, **extra}, files={"document": ("p.png", png_page())})
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_document" and "accepted: ['document'" in error["message"]
    for path in ("/api/v1/pipelines/{name}/predict", "/api/v1/jobs"):
        form = openapi["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert form["additionalProperties"] is False, path
