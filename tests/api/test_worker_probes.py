"""`docserve worker` answers the orchestrator's probes and Prometheus on DOCSERVE_WORKER_PROBE_PORT.

The Kubernetes worker Deployment and the compose worker service probe exactly these routes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from docserve.api.embedded_triton import free_port


def _wait_for(url: str, worker: subprocess.Popen, timeout_s: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert worker.poll() is None, f"worker exited with {worker.returncode}"
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout_s} s")


def test_a_worker_answers_liveness_readiness_and_metrics(triton_settings, tmp_path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DOCSERVE_DATA_DIR": str(tmp_path),
        "DOCSERVE_TRITON_HTTP_PORT": str(triton_settings.triton_http_port),
        "DOCSERVE_TRITON_GRPC_PORT": str(triton_settings.triton_grpc_port),
        "DOCSERVE_WORKER_PROBE_PORT": str(port),
        "DOCSERVE_LOG_JSON": "false",
    }
    worker = subprocess.Popen([sys.executable, "-m", "docserve.cli.main", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        assert _wait_for(f"{base}/healthz", worker).json() == {"status": "ok"}
        assert httpx.get(f"{base}/readyz", timeout=10).json() == {"status": "ready"}
        metrics = httpx.get(f"{base}/metrics", timeout=10)
        assert metrics.status_code == 200 and "# TYPE" in metrics.text
        assert httpx.get(f"{base}/api/v1/jobs", timeout=10).status_code == 404  # probes only
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, worker.stderr.read()
    finally:
        if worker.poll() is None:
            worker.kill()


def test_a_worker_whose_triton_is_down_is_alive_but_not_ready(tmp_path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DOCSERVE_DATA_DIR": str(tmp_path),
        "DOCSERVE_TRITON_HTTP_PORT": str(free_port()),  # nobody listens there
        "DOCSERVE_TRITON_GRPC_PORT": str(free_port()),
        "DOCSERVE_TRITON_RETRIES": "0",
        "DOCSERVE_WORKER_PROBE_PORT": str(port),
        "DOCSERVE_LOG_JSON": "false",
    }
    worker = subprocess.Popen([sys.executable, "-m", "docserve.cli.main", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        assert _wait_for(f"{base}/healthz", worker).status_code == 200
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 503
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
