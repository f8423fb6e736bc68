"""`docserve serve` stopped ten times, as users and process managers stop it: nothing is left.

Each cycle starts the gateway and the embedded Triton on the same four ports, waits for the
banner, stops the launcher (SIGTERM like systemd/Kubernetes, SIGINT like Ctrl-C, SIGKILL like the
OOM killer) and then looks for any process or /dev/shm region of that run. Reusing the ports each
time proves that a restart right after a stop succeeds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
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

CAR = {"buying": "low", "maint": "low", "doors": "4", "persons": "more", "lug_boot": "big", "safety": "high"}
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


def _descendant_with_arg(pid: int, arg: str) -> int:
    """The process under ``pid`` (children, grandchildren ...) with ``arg`` in its command line."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for child in map(int, children):
        try:
            if arg in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace").split("\0"):
                return child
        except FileNotFoundError:
            continue
        found = _descendant_with_arg(child, arg)
        if found:
            return found
    return 0


def test_a_stop_after_a_stub_death_is_quick_and_leaves_nothing(tmp_path: Path, ports: dict[str, str]):
    """A model whose stub died never unloads: Triton used to wait its 30 s exit timeout for it.
    The stop (gateway, then Triton) ends within the 15 s a process manager is told to allow."""
    repository = copy_car_repository(tmp_path / "repository")
    data_dir = tmp_path / "run"
    launcher = start_command("serve", data_dir, "--model-repository", str(repository), env=ports)
    try:
        wait_for_line(launcher, "docserve is up", timeout_s=120)
        stub = _descendant_with_arg(launcher.pid, "car_evaluation_model_0_0")
        assert stub, "no stub process for car_evaluation_model under the launcher"
        os.kill(stub, signal.SIGKILL)
        dead = httpx.post(f"http://127.0.0.1:{ports['DOCSERVE_PORT']}/api/v1/predict", timeout=60,
                          json={"inputs": [CAR]})  # meets the dead stub: the repair reloads it
        assert dead.status_code == 503, dead.text
        stopping = time.monotonic()
        launcher.send_signal(signal.SIGTERM)
        code = launcher.wait(timeout=15)
        print(f"stopped {time.monotonic() - stopping:.1f} s after SIGTERM")
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert code == 0
    assert wait_until_gone(data_dir, launcher.pid, timeout_s=0) == ([], [])
