"""Schemathesis over the gateway's OpenAPI, against a real uvicorn + the session's real Triton.

Every operation gets schema-valid (positive) and schema-invalid (negative) requests; positive job
and prediction requests are often made valid-looking (a served pipeline, a real file location, a
known job), so the runs reach past validation into the store, the workers and Triton. Bounded: a
fixed number of examples per operation and mode, well under two minutes. The figures are printed.

Checks: no 5xx; every status, content type, header and body documented in the OpenAPI; invalid
data rejected with 4xx; an undocumented method answered 405 with a true ``Allow``.
``positive_data_acceptance`` is left out on purpose: a schema-valid body can still name a
pipeline or job that does not exist (404) or a refused location (422).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies
from hypothesis.errors import Unsatisfiable
from live_gateway import serve
from sample_documents import png_page
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from docserve.api.app import create_app

EXAMPLES = 50  # per operation and generation mode
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


@dataclass
class Tally:
    requests: int = 0
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: collections.Counter = field(default_factory=collections.Counter)


@pytest.fixture
def gateway(jobs_settings, probe_pipeline, inbox):
    (inbox / "page.png").write_bytes(png_page(90, 60))
    settings = jobs_settings.model_copy(update={"worker_concurrency": 1})
    with serve(create_app(settings)) as (host, port):
        base = f"http://{host}:{port}"
        known = {"request_id": KNOWN_JOB, "pipeline": "page_probe_pipeline",
                 "location": f"file://{inbox}/page.png"}
        assert httpx.post(f"{base}/api/v1/jobs", json=known).status_code == 202
        yield base, known["location"]


KNOWN_JOB = "fuzz-known"  # submitted before the run: job routes answer 200 and 409 too


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


def _run(operation, mode: GenerationMode, base: str, location: str, tally: Tally) -> None:
    choices = strategies.tuples(strategies.sampled_from([None, "page_probe_pipeline"]), strategies.booleans())
    strategy = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:  # a negative case must keep what makes it invalid
        strategy = strategies.tuples(strategy, choices).map(_valid_looking(location))

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def exercise(case) -> None:
        response = case.call(base_url=base, timeout=30)
        tally.requests += 1
        tally.statuses[f"{operation.method.upper()} {operation.path} {response.status_code}"] += 1
        tally.server_errors += response.status_code >= 500
        try:
            case.validate_response(response, checks=CHECKS)
        except AssertionError as error:  # schemathesis' failure group
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
    base, location = gateway
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    tally = Tally()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(operation, mode, base, location, tally)
    _undocumented_methods(schema, base, tally)
    with capsys.disabled():
        print(f"\nschemathesis: {tally.requests} requests, {tally.server_errors} server errors, "
              f"{len(tally.failures)} conformance failures")
        for line, count in sorted(tally.statuses.items()):
            print(f"  {line}: {count}")
    assert tally.server_errors == 0
    assert tally.failures == [], "\n".join(tally.failures[:20])
