"""`docserve serve` stopped ten times, as users and process managers stop it: nothing is left.

Each cycle starts the gateway and the embedded Triton on the same four ports, waits for the
banner, stops the launcher (SIGTERM like systemd/Kubernetes, SIGINT like Ctrl-C, SIGKILL like the
OOM killer) and then looks for any process or /dev/shm region of that run. Reusing the ports each
time proves that a restart right after a stop succeeds.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
from launched_service import (
    copy_car_repository,
    processes_mentioning,
    shm_regions_of,
    start_command,
    wait_for_line,
    wait_until_gone,
)

from docserve.api.embedded_triton import free_port

STOPS = [signal.SIGTERM, signal.SIGINT, signal.SIGKILL] * 3 + [signal.SIGTERM]


@pytest.fixture
def ports() -> dict[str, str]:
    return {"DOCSERVE_PORT": str(free_port()), "DOCSERVE_TRITON_HTTP_PORT": str(free_port()),
            "DOCSERVE_TRITON_GRPC_PORT": str(free_port()), "DOCSERVE_TRITON_METRICS_PORT": str(free_port())}


def test_ten_stops_leave_no_process_and_no_shared_memory(tmp_path: Path, ports: dict[str, str]):
    repository = copy_car_repository(tmp_path / "repository")
    leftovers = []
    for cycle, stop in enumerate(STOPS):
        data_dir = tmp_path / f"run-{cycle}"
        launcher = start_command("serve", data_dir, "--model-repository", str(repository), env=ports)
        try:
            wait_for_line(launcher, "docserve is up", timeout_s=120)
            health = httpx.get(f"http://127.0.0.1:{ports['DOCSERVE_PORT']}/api/v1/health", timeout=10)
            assert health.status_code == 200, health.text
            assert processes_mentioning(str(data_dir)), "Triton should be running under the data dir"
            assert shm_regions_of(launcher.pid), "the python backend should be using /dev/shm"
            launcher.send_signal(stop)
            code = launcher.wait(timeout=60)
        finally:
            if launcher.poll() is None:
                launcher.kill()
        assert code == (-signal.SIGKILL if stop == signal.SIGKILL else 0), f"cycle {cycle} ({stop.name})"
        # A requested stop cleans up before exiting; after SIGKILL the reaper does, within seconds.
        left = wait_until_gone(data_dir, launcher.pid, timeout_s=30 if stop == signal.SIGKILL else 0)
        if left != ([], []):
            leftovers.append((cycle, stop.name, left))
    assert leftovers == []
