"""docker/compose.yaml: valid against the compose specification, and wired the way it must be.

No Docker engine runs here: this proves the file is one `docker compose` accepts and that its
services wait for each other, not that the containers start.
"""

from __future__ import annotations

import copy
import json
import re
from importlib import resources

import jsonschema
import pytest
import yaml

from docserve.api.settings import Settings
from docserve.contract.model_repositories import PROJECT_ROOT

DOCKER = PROJECT_ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
REQUIRED_VARIABLE = re.compile(r"\$\{(\w+):\?")
OUR_IMAGES = {"docserve-triton": "triton.Dockerfile", "docserve-gateway": "gateway.Dockerfile"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def compose_spec_errors(document: dict) -> list[str]:
    """The compose specification's JSON schema (as vendored by check-jsonschema)."""
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    validator = jsonschema.Draft7Validator(json.loads(schema_file.read_text()))
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(document)]


def test_compose_follows_the_compose_specification(compose: dict) -> None:
    assert compose_spec_errors(compose) == []


def test_the_whole_system_is_there(compose: dict) -> None:
    assert set(compose["services"]) == {
        "triton", "gateway", "worker", "kafka", "schema-registry", "mongodb", "redis",
        "prometheus", "grafana", "elasticsearch", "fluent-bit", "kafka-topics",
    }


def test_every_service_checks_its_health_and_waits_for_healthy_dependencies(compose: dict) -> None:
    one_shot = {"kafka-topics"}  # runs once and exits: waited for by its exit status instead
    for name, service in compose["services"].items():
        if name not in one_shot:
            assert "test" in service.get("healthcheck", {}), name
        for dependency, condition in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency in one_shot else "service_healthy"
            assert condition == {"condition": expected}, (name, dependency)
            assert dependency in compose["services"]


def test_every_service_runs_as_a_non_root_user(compose: dict) -> None:
    """Third-party images name their user here; ours set USER in their Dockerfiles."""
    for name, service in compose["services"].items():
        image = service["image"].split(":")[0]
        if image in OUR_IMAGES:
            dockerfile = (DOCKER / OUR_IMAGES[image]).read_text()
            final_stage = dockerfile.rsplit("\nFROM ", 1)[-1]
            users = re.findall(r"^USER (\S+)", final_stage, re.MULTILINE)
            assert users and users[-1] not in ("root", "0"), name
        else:
            assert service.get("user", "0").split(":")[0] not in ("root", "0"), name


def test_images_are_pinned(compose: dict) -> None:
    for name, service in compose["services"].items():
        tag = service["image"].rsplit(":", 1)[-1] if ":" in service["image"] else "latest"
        assert tag != "latest", name


def test_no_secret_is_committed_and_every_required_variable_is_in_the_example(compose: dict) -> None:
    text = COMPOSE.read_text()
    example = dict(line.split("=", 1) for line in (DOCKER / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    required = set(REQUIRED_VARIABLE.findall(text))
    assert required and required <= set(example)
    assert all(example[name] == "" for name in required if "PASSWORD" in name or "SECRET" in name)
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET", key):
                assert str(value).startswith("${"), (name, key)


def test_a_broken_compose_file_is_caught(compose: dict) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["gateway"]["depends_on"]["triton"] = {"condition": "service_up"}
    broken["services"]["redis"]["healthcheck"]["interval"] = 10
    errors = compose_spec_errors(broken)
    assert any("service_up" in error for error in errors)
    assert any("interval" in error for error in errors)


def test_every_docserve_setting_is_one_docserve_knows(compose: dict) -> None:
    fields = {f"DOCSERVE_{name.upper()}" for name in Settings.model_fields}
    for name in ("gateway", "worker"):
        assert sorted(set(compose["services"][name]["environment"]) - fields) == [], name
