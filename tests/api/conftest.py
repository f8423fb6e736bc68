"""An app wired to the session's real Triton, driven through HTTP routing by httpx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from docserve.api.app import create_app
from docserve.api.settings import Settings


@pytest.fixture(scope="module")
def api(triton_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(triton_settings)) as client:
        yield client
