"""The embedded Triton launcher: clear errors, and nothing left behind after a stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from launched_service import (
    copy_car_repository,
    processes_mentioning,
    shm_regions_of,
    start_command,
    wait_for_line,
    wait_until_gone,
)

from docserve.api.embedded_triton import (
    EmbeddedTriton,
    EmbeddedTritonError,
    PortInUseError,
    TritonOptions,
    TritonPorts,
    free_port,
)


@pytest.fixture
def car_repository(tmp_path: Path) -> Path:
    return copy_car_repository(tmp_path / "repository")


def test_busy_port_is_a_clear_error_before_anything_starts(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        ports = TritonPorts(http=free_port(), grpc=busy, metrics=free_port())
        options = TritonOptions(model_repositories=[tmp_path], work_dir=tmp_path / "work", ports=ports)
        with pytest.raises(PortInUseError, match=f"grpc port {busy} already in use"):
            EmbeddedTriton(options).start()
    assert not (tmp_path / "work").exists()


def test_missing_repository_is_a_clear_error(tmp_path):
    options = TritonOptions(model_repositories=[tmp_path / "nope"], work_dir=tmp_path / "work")
    with pytest.raises(EmbeddedTritonError, match=r"model repository .*nope does not exist"):
        EmbeddedTriton(options).start()


def test_cli_busy_port_exits_2_with_the_reason(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        completed = subprocess.run(
            [sys.executable, "-m", "docserve.cli.main", "triton", "--triton-http-port", str(busy),
             "--triton-grpc-port", str(free_port()), "--triton-metrics-port", str(free_port())],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "DOCSERVE_DATA_DIR": str(tmp_path)},
        )
    assert completed.returncode == 2
    assert f"http port {busy} already in use" in completed.stderr
    assert "grpc port" not in completed.stderr  # only the busy one is named


def _start_launcher(data_dir: Path, repository: Path) -> subprocess.Popen:
    """`docserve triton` on free ports, serving ``repository``, with its state in ``data_dir``."""
    ports = [str(free_port()) for _ in range(3)]
    return start_command(
        "triton", data_dir, "--model-repository", str(repository),
        "--triton-http-port", ports[0], "--triton-grpc-port", ports[1], "--triton-metrics-port", ports[2],
    )


def test_sigint_stops_server_and_stubs_and_cleans_shared_memory(tmp_path, car_repository):
    data_dir = tmp_path / "data"
    launcher = _start_launcher(data_dir, car_repository)
    try:
        wait_for_line(launcher, "Triton ready", timeout_s=120)
        running = processes_mentioning(str(data_dir))
        assert any("bin/tritonserver" in line for line in running)
        assert any("triton_python_backend_stub" in line for line in running)
        assert shm_regions_of(launcher.pid), "the python backend should be using /dev/shm"
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=60) == 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert processes_mentioning(str(data_dir)) == []
    assert shm_regions_of(launcher.pid) == []


def test_a_killed_launcher_takes_triton_with_it(tmp_path, car_repository):
    """Even SIGKILL (no chance to clean up) of `docserve triton` ends the server and its stubs,
    and the reaper removes their shared memory."""
    data_dir = tmp_path / "data"
    launcher = _start_launcher(data_dir, car_repository)
    wait_for_line(launcher, "Triton ready", timeout_s=120)
    assert any("bin/tritonserver" in line for line in processes_mentioning(str(data_dir)))
    assert shm_regions_of(launcher.pid)
    launcher.kill()
    launcher.wait(timeout=10)
    assert wait_until_gone(data_dir, launcher.pid, timeout_s=30) == ([], [])


def test_extra_arguments_reach_the_server(tmp_path, car_repository):
    """DOCSERVE_TRITON_EXTRA_ARGS: e.g. Triton's own tracing; here a log setting Triton reports back."""
    from docserve.api.server import embedded_triton_for
    from docserve.api.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", model_repositories=[car_repository],
                        triton_http_port=free_port(), triton_grpc_port=free_port(),
                        triton_metrics_port=free_port(), triton_extra_args=["--log-info=false"])
    server = embedded_triton_for(settings)
    assert server.command(tmp_path)[-1] == "--log-info=false"
    with server, urllib.request.urlopen(f"http://{server.http_url}/v2/logging", timeout=5) as answer:
        assert json.loads(answer.read())["log_info"] is False
