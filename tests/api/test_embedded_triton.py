"""The embedded Triton launcher: clear errors, and nothing left behind after a stop."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from docserve.api.embedded_triton import (
    SHM_DIR,
    EmbeddedTriton,
    EmbeddedTritonError,
    PortInUseError,
    TritonOptions,
    TritonPorts,
    free_port,
)
from docserve.api.settings import PROJECT_ROOT

CAR_MODELS = ("car_evaluation_preprocess", "car_evaluation_model", "car_evaluation_postprocess")


def _processes_mentioning(text: str) -> list[str]:
    listing = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True)
    return [line for line in listing.stdout.splitlines() if text in line and "ps -ww" not in line]


@pytest.fixture
def car_repository(tmp_path: Path) -> Path:
    """A repository holding just the car pipeline: a second server that starts in seconds."""
    repository = tmp_path / "repository"
    for name in CAR_MODELS:
        shutil.copytree(PROJECT_ROOT / "model_repository" / name, repository / name)
    shutil.copytree(PROJECT_ROOT / "ensembles" / "car_evaluation", repository / "car_evaluation")
    return repository


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
            [sys.executable, "-m", "docserve.client.cli", "triton", "--triton-http-port", str(busy),
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
    command = [
        sys.executable, "-m", "docserve.client.cli", "triton", "--model-repository", str(repository),
        "--triton-http-port", ports[0], "--triton-grpc-port", ports[1], "--triton-metrics-port", ports[2],
    ]
    env = {**os.environ, "DOCSERVE_DATA_DIR": str(data_dir)}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_sigint_stops_server_and_stubs_and_cleans_shared_memory(tmp_path, car_repository):
    data_dir = tmp_path / "data"
    shm_before = set(SHM_DIR.iterdir())
    launcher = _start_launcher(data_dir, car_repository)
    try:
        _wait_for_line(launcher, "Triton ready", timeout_s=120)
        running = _processes_mentioning(str(data_dir))
        assert any("bin/tritonserver" in line for line in running)
        assert any("triton_python_backend_stub" in line for line in running)
        assert set(SHM_DIR.iterdir()) - shm_before, "the python backend should be using /dev/shm"
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=60) == 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert _processes_mentioning(str(data_dir)) == []
    assert set(SHM_DIR.iterdir()) - shm_before == set()


def _wait_for_line(process: subprocess.Popen, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    assert process.stdout is not None
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"never printed {text!r}; output:\n{''.join(seen[-30:])}")


def test_a_killed_launcher_takes_triton_with_it(tmp_path, car_repository):
    """Even SIGKILL (no chance to clean up) of `docserve triton` ends the server and its stubs."""
    data_dir = tmp_path / "data"
    launcher = _start_launcher(data_dir, car_repository)
    _wait_for_line(launcher, "Triton ready", timeout_s=120)
    assert any("bin/tritonserver" in line for line in _processes_mentioning(str(data_dir)))
    launcher.kill()
    launcher.wait(timeout=10)
    deadline = time.monotonic() + 30
    while _processes_mentioning(str(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_mentioning(str(data_dir)) == []
