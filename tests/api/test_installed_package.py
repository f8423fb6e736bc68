"""docserve installed the ordinary way (``pip install .``, not editable), away from the checkout.

Its code then lives in site-packages, where there is no model repository: ``docserve serve``
must say in one line how to name them, and serve the ones it is given.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from fresh_environments import build_wheel, create_venv
from launched_service import copy_car_repository, wait_for_line

from docserve.api.embedded_triton import free_port


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("installed")
    return create_venv(root / "venv", [str(build_wheel(root / "wheel"))])


def _environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    keep = {key: value for key, value in os.environ.items() if not key.startswith("DOCSERVE_")}
    return {**keep, "DOCSERVE_DATA_DIR": str(tmp_path / "data"), "DOCSERVE_LOG_JSON": "false", **settings}


def test_the_code_runs_from_site_packages(installed: Path, tmp_path: Path):
    where = subprocess.run(
        [str(installed / "python"), "-c", "import docserve.api; print(docserve.api.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout
    assert where.startswith(str(installed.parent / "lib")), where


def test_serve_without_repositories_says_how_to_name_them(installed: Path, tmp_path: Path):
    completed = subprocess.run([str(installed / "docserve"), "serve"], cwd=tmp_path, timeout=120,
                               capture_output=True, text=True, env=_environment(tmp_path))
    assert completed.returncode == 2, completed.stderr
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, completed.stderr
    assert "no model repositories found" in errors[0]
    assert "DOCSERVE_MODEL_REPOSITORIES" in errors[0] and "--model-repository" in errors[0]


def test_serve_serves_the_repositories_it_is_given(installed: Path, tmp_path: Path):
    repository = copy_car_repository(tmp_path / "repository")
    port = free_port()
    env = _environment(
        tmp_path, DOCSERVE_MODEL_REPOSITORIES=json.dumps([str(repository)]), DOCSERVE_PORT=str(port),
        DOCSERVE_TRITON_HTTP_PORT=str(free_port()), DOCSERVE_TRITON_GRPC_PORT=str(free_port()),
        DOCSERVE_TRITON_METRICS_PORT=str(free_port()),
    )
    launcher = subprocess.Popen([str(installed / "docserve"), "serve"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_line(launcher, "docserve is up", timeout_s=120)
        health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10).json()
        assert {model["name"] for model in health["models"]} >= {"car_evaluation_model"}, health
        for asset in ("/", "/static/app.js", "/static/app.css"):  # the page ships with the package
            assert httpx.get(f"http://127.0.0.1:{port}{asset}", timeout=10).status_code == 200, asset
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=60) == 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
