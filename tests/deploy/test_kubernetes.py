"""docker/k8s: every overlay renders, every object validates, and the invariants that matter hold.

No cluster runs here: these tests prove what can be proven offline (kustomize renders, the API
server's schemas accept every object, the wiring between objects is right), not that pods start.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from kubernetes_manifests import (
    K8S,
    OVERLAYS,
    ManifestError,
    containers,
    find,
    pod_specs,
    render,
    unbounded_or_unprobed,
    validation_errors,
)

from docserve.api.settings import Settings

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL", re.IGNORECASE)
CREDENTIALS_IN_URL = re.compile(r"://[^/@\s]+:[^/@\s]+@")
# Settings whose values carry credentials: they come from the docserve-secrets Secret.
SECRET_SETTINGS = {"DOCSERVE_MONGODB_URL", "DOCSERVE_REDIS_URL", "DOCSERVE_CALLBACK_SECRET"}
SETTINGS_ENV = K8S / "base" / "app" / "settings.env"


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict]]:
    return request.param, render(K8S / "overlays" / request.param)


def test_every_object_is_accepted_by_the_kubernetes_schemas(overlay: tuple[str, list[dict]]) -> None:
    _, documents = overlay
    assert {document["kind"] for document in documents} >= {
        "Namespace", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "NetworkPolicy", "ConfigMap", "ScaledObject", "ServiceMonitor", "DaemonSet",
    }
    errors = [error for document in documents for error in validation_errors(document)]
    assert errors == []


def test_every_container_has_requests_limits_and_probes(overlay: tuple[str, list[dict]]) -> None:
    _, documents = overlay
    assert unbounded_or_unprobed(documents) == []


def test_images_are_pinned(overlay: tuple[str, list[dict]]) -> None:
    _, documents = overlay
    images = [container["image"] for _, container in containers(documents)]
    assert images
    floating = [image for image in images if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")]
    assert floating == []


def test_no_secret_is_committed(overlay: tuple[str, list[dict]]) -> None:
    """Secrets are created out of band: none is rendered, no secret-looking value is literal."""
    _, documents = overlay
    assert [document["metadata"]["name"] for document in documents if document["kind"] == "Secret"] == []
    literal = [f"{where}: {variable['name']}" for where, container in containers(documents)
               for variable in container.get("env", []) if "value" in variable
               and (SECRET_NAME.search(variable["name"]) or CREDENTIALS_IN_URL.search(variable["value"]))]
    configured = [f"{document['metadata']['name']}: {key}" for document in documents
                  if document["kind"] == "ConfigMap" for key, value in document.get("data", {}).items()
                  if SECRET_NAME.search(key) or key in SECRET_SETTINGS or CREDENTIALS_IN_URL.search(value)]
    assert literal == [] and configured == []


def test_triton_shares_tensors_through_memory_backed_shm(overlay: tuple[str, list[dict]]) -> None:
    _, documents = overlay
    spec = find(documents, "Deployment", "triton")["spec"]["template"]["spec"]
    mount = next(mount for mount in spec["containers"][0]["volumeMounts"] if mount["mountPath"] == "/dev/shm")
    volume = next(volume for volume in spec["volumes"] if volume["name"] == mount["name"])
    assert volume["emptyDir"]["medium"] == "Memory"


def test_triton_probes_are_tritons_health_endpoints(overlay: tuple[str, list[dict]]) -> None:
    _, documents = overlay
    triton = find(documents, "Deployment", "triton")["spec"]["template"]["spec"]["containers"][0]
    assert triton["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert triton["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    startup = triton["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600  # model loading


def test_only_gateway_and_workers_reach_triton(overlay: tuple[str, list[dict]]) -> None:
    _, documents = overlay
    policy = find(documents, "NetworkPolicy", "triton-clients")["spec"]
    assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "triton"}
    inference_ports = {8000, 8001}
    allowed = set()
    for rule in policy["ingress"]:
        ports = {port["port"] for port in rule["ports"]}
        if ports & inference_ports:
            allowed |= {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in rule["from"]}
            assert all(set(peer) == {"podSelector"} for peer in rule["from"])  # this namespace only
    assert allowed == {"gateway", "worker"}


def test_every_deployment_has_a_disruption_budget(overlay: tuple[str, list[dict]]) -> None:
    _, documents = overlay
    budgets = [document["spec"]["selector"]["matchLabels"] for document in documents
               if document["kind"] == "PodDisruptionBudget"]
    unguarded = [document["metadata"]["name"] for document in documents if document["kind"] == "Deployment"
                 and document["spec"]["selector"]["matchLabels"] not in budgets]
    assert unguarded == []


def test_workers_scale_on_the_consumer_groups_lag(overlay: tuple[str, list[dict]]) -> None:
    _, documents = overlay
    scaled = find(documents, "ScaledObject", "worker")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "worker"
    find(documents, "Deployment", "worker")
    trigger = scaled["triggers"][0]
    settings = _settings_env()
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == settings["DOCSERVE_KAFKA_CONSUMER_GROUP"]
    assert trigger["metadata"]["topic"] == settings["DOCSERVE_KAFKA_REQUEST_TOPIC"]
    assert trigger["metadata"]["bootstrapServers"] == settings["DOCSERVE_KAFKA_BOOTSTRAP_SERVERS"]


def test_every_setting_is_one_docserve_knows() -> None:
    """A misspelt DOCSERVE_ variable would be ignored silently by the settings class."""
    fields = {f"DOCSERVE_{name.upper()}" for name in Settings.model_fields}
    assert sorted(set(_settings_env()) - fields) == []
    defaults = Settings(_env_file=None)
    settings = _settings_env()
    for name in ("kafka_request_topic", "kafka_result_topic", "kafka_dead_letter_topic",
                 "kafka_consumer_group", "mongodb_database"):
        assert settings[f"DOCSERVE_{name.upper()}"] == getattr(defaults, name)


def test_gpu_only_in_the_gpu_overlays(overlay: tuple[str, list[dict]]) -> None:
    name, documents = overlay
    gpus = {where: container["resources"]["limits"].get("nvidia.com/gpu")
            for where, container in containers(documents)}
    assert gpus.pop("Deployment/triton/triton") == ("1" if name.startswith("gpu") else None)
    assert set(gpus.values()) == {None}


def test_pods_in_the_service_namespace_run_as_non_root(overlay: tuple[str, list[dict]]) -> None:
    _, documents = overlay
    for where, spec in pod_specs(documents):
        if where == "DaemonSet/fluent-bit":
            continue  # docserve-logging: reads the nodes' root-owned log files
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], where


def test_the_s3_overlay_loads_the_models_from_the_bucket() -> None:
    documents = render(K8S / "overlays" / "gpu-s3")
    triton = find(documents, "Deployment", "triton")["spec"]["template"]["spec"]["containers"][0]
    repositories = [argument for argument in triton["args"] if argument.startswith("--model-repository=")]
    assert repositories == ["--model-repository=$(MODEL_REPOSITORY)",
                            "--model-repository=$(ENSEMBLES_REPOSITORY)"]
    config = next(document for document in documents if document["kind"] == "ConfigMap"
                  and document["metadata"]["name"].startswith("triton-model-repository"))
    assert all(value.startswith("s3://") for value in config["data"].values())
    assert config["metadata"]["namespace"] == find(documents, "Deployment", "triton")["metadata"]["namespace"]


@pytest.mark.parametrize("breakage", ["unknown field", "wrong type", "no limits", "missing file"])
def test_a_broken_manifest_is_caught(tmp_path: Path, breakage: str) -> None:
    """The checks above can fail: each breakage of a copy of docker/k8s is reported."""
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    gateway = copy / "base" / "app" / "gateway.yaml"
    objects = list(yaml.safe_load_all(gateway.read_text()))
    container = objects[0]["spec"]["template"]["spec"]["containers"][0]
    if breakage == "unknown field":
        objects[0]["spec"]["replica"] = 3
    elif breakage == "wrong type":
        container["ports"][0]["containerPort"] = "eighty"
    elif breakage == "no limits":
        del container["resources"]["limits"]
    else:
        (copy / "base" / "app" / "network-policy.yaml").unlink()
    gateway.write_text(yaml.safe_dump_all(objects))
    try:
        documents = render(copy / "overlays" / "cpu")
    except ManifestError as error:
        assert breakage == "missing file" and "network-policy.yaml" in str(error)
        return
    errors = [error for document in documents for error in validation_errors(document)]
    assert errors + unbounded_or_unprobed(documents), breakage


def _settings_env() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in SETTINGS_ENV.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {key: value for key, value in pairs}
