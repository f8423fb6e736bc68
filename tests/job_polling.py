"""Waiting for a job through the API, as a client would."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient


def wait_for_job(client: TestClient, request_id: str, timeout_s: float = 30.0,
                 headers: dict[str, str] | None = None) -> dict:
    """The job once final (``headers``: e.g. the API key of its owner)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{request_id}", headers=headers).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {request_id} not finished after {timeout_s}s: {job}")
