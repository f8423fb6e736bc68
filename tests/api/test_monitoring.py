"""The alert rules and the dashboard in docker/ speak of metrics that really exist.

The gateway and the session's real Triton are made to produce every kind of sample first (a
request, a job that succeeds, one whose document is missing), then every ``docserve_*`` and
``nv_*`` name used by an alert or a panel must be among the names they expose. A renamed metric
fails here, not silently on a dashboard. (PromQL itself is not parsed: no promtool here.)
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from job_polling import wait_for_job
from sample_documents import png_page

from docserve.api.app import create_app
from docserve.contract.model_repositories import PROJECT_ROOT

DOCKER = PROJECT_ROOT / "docker"
METRIC = re.compile(r"\b((?:docserve|nv)_[a-z_]+)\b")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", re.MULTILINE)


def _sample_names(exposition: str) -> set[str]:
    """Sample names exactly as exposed (a parser would add ``_total`` to Triton's counters)."""
    return {match.group(1) for match in SAMPLE.finditer(exposition)}


def _alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load((DOCKER / "prometheus" / "alerts.yml").read_text())["groups"]
            for rule in group["rules"]]


def _dashboard() -> dict:
    return json.loads((DOCKER / "grafana" / "docserve-dashboard.json").read_text())


def _panel_exprs() -> list[str]:
    return [target["expr"] for panel in _dashboard()["panels"] for target in panel["targets"]]


@pytest.fixture(scope="module")
def exposed_names(triton, triton_settings, probe_pipeline, document_server, tmp_path_factory) -> set[str]:
    inbox = tmp_path_factory.mktemp("monitoring_inbox")
    (inbox / "page.png").write_bytes(png_page(20, 10))
    settings = triton_settings.model_copy(update={
        "data_dir": tmp_path_factory.mktemp("monitoring_data"), "file_roots": [inbox],
        "allow_private_hosts": True,  # the document server is on loopback
    })
    base, _ = document_server
    with TestClient(create_app(settings)) as client:
        jobs = {"mon-ok": f"file://{inbox}/page.png", "mon-404": f"{base}/status/404"}
        for request_id, location in jobs.items():
            body = {"request_id": request_id, "pipeline": probe_pipeline, "location": location}
            assert client.post("/api/v1/jobs", json=body).status_code == 202
            wait_for_job(client, request_id)
        gateway = client.get("/metrics").text
    url = f"http://{triton.options.host}:{triton.options.ports.metrics}/metrics"
    with urllib.request.urlopen(url, timeout=10) as answer:
        triton_metrics = answer.read().decode()
    return _sample_names(gateway) | _sample_names(triton_metrics)


def test_every_alert_is_complete():
    rules = _alert_rules()
    assert len(rules) >= 10
    for rule in rules:
        assert {"alert", "expr", "for", "labels", "annotations"} <= rule.keys(), rule
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
    assert len({rule["alert"] for rule in rules}) == len(rules)


def test_prometheus_scrapes_the_gateway_and_triton_and_loads_the_rules():
    config = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["docserve-gateway"]["static_configs"][0]["targets"] == ["gateway:8080"]
    assert jobs["triton"]["static_configs"][0]["targets"] == ["triton:8002"]
    assert [Path(path).name for path in config["rule_files"]] == ["alerts.yml"]
    for job in re.findall(r'up\{job="([^"]+)"\}', " ".join(rule["expr"] for rule in _alert_rules())):
        assert job in jobs


def test_the_dashboard_uses_the_provisioned_datasource():
    uid = yaml.safe_load((DOCKER / "grafana" / "datasources.yml").read_text())["datasources"][0]["uid"]
    dashboard = _dashboard()
    assert dashboard["uid"] == "docserve" and dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid
        assert all(target["datasource"]["uid"] == uid for target in panel["targets"]), panel["title"]


def test_every_metric_an_alert_or_panel_uses_is_exposed(exposed_names):
    used = {name for expr in [rule["expr"] for rule in _alert_rules()] + _panel_exprs()
            for name in METRIC.findall(expr)}
    assert used, "the rules and panels should use docserve_* and nv_* metrics"
    assert sorted(used - exposed_names) == []
