"""An app wired to the session's real Triton, driven through HTTP routing by httpx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from docserve.api.app import create_app
from docserve.api.settings import Settings


@pytest.fixture(scope="module")
def api(triton_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(triton_settings)) as client:
        yield client


# -- documents and the servers they live on -----------------------------------------------------


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def jobs_settings(triton_settings: Settings, tmp_path: Path, inbox: Path) -> Settings:
    """Fresh store, one allowed file root, fast retries: what job tests start from."""
    return triton_settings.model_copy(update={
        "data_dir": tmp_path / "data", "file_roots": [inbox], "worker_concurrency": 2,
        "job_retry_base_s": 0.05, "job_lease_s": 3.0, "fetch_timeout_s": 5.0,
    })
