"""Health endpoints and the home page, through the gateway and the real Triton."""

from __future__ import annotations

from fastapi.testclient import TestClient

from docserve.api.app import create_app
from docserve.api.embedded_triton import free_port


def test_health_lists_every_model_ready_with_versions(api):
    body = api.get("/api/v1/health").json()
    assert body["name"] == "docserve"
    assert body["api_version"] == "v1"
    assert body["triton"] == "ready", [model for model in body["models"] if model["state"] != "READY"]
    models = {model["name"]: model for model in body["models"]}
    for name in ("car_evaluation", "car_evaluation_preprocess", "car_evaluation_model"):
        assert models[name]["state"] == "READY"
        assert models[name]["versions"] == ["1"]


def test_probes(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").status_code == 200


def test_home_page_links_the_docs(api):
    response = api.get("/")
    assert response.status_code == 200
    assert 'href="/docs"' in response.text
    assert api.get("/openapi.json").json()["paths"]["/api/v1/predict"]


def test_cors_allows_configured_origins_only(api):
    allowed = api.options(
        "/api/v1/predict",
        headers={"Origin": "http://localhost:8080", "Access-Control-Request-Method": "POST"},
    )
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:8080"
    denied = api.options(
        "/api/v1/predict",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in denied.headers


def test_triton_down_gives_503_with_retry_after_not_500(triton_settings, best_car):
    settings = triton_settings.model_copy(update={"triton_grpc_port": free_port(), "triton_retries": 1})
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/v1/predict", json={"inputs": [{"buying": "low"}] * 1})
        assert response.status_code == 422  # validation happens before Triton is needed
        response = client.post("/api/v1/predict", json={"inputs": [best_car]})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["error"]["code"] == "triton_unavailable"
        assert client.get("/readyz").status_code == 503
        assert client.get("/api/v1/health").json()["triton"] == "unreachable"


def test_metrics_count_requests_by_route_and_show_the_queue(api, best_car):
    api.post("/api/v1/predict", json={"inputs": [best_car]})
    api.get("/api/v1/jobs/unknown-job")
    text = api.get("/metrics").text
    assert 'docserve_http_requests_total{method="POST",route="/api/v1/predict",status="200"}' in text
    assert 'route="/api/v1/jobs/{request_id}",status="404"' in text
    assert 'docserve_triton_inference_seconds_count{model="car_evaluation"}' in text
    assert "docserve_jobs" in text


def test_a_bug_is_answered_as_json_500_not_a_bare_page(triton_settings):
    from docserve.api.dependencies import get_catalog

    class BrokenCatalog:
        async def all(self):
            raise RuntimeError("simulated bug")

    app = create_app(triton_settings)
    app.dependency_overrides[get_catalog] = BrokenCatalog
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/pipelines")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error",
                                         "message": "internal error; see the gateway log"}}
