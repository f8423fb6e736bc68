"""Starting ``docserve serve`` / ``docserve triton`` as a user would, and finding what it left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from docserve.api.embedded_triton import TritonOptions, TritonPorts, free_port
from docserve.api.triton_reaper import SHM_DIR
from docserve.contract.model_repositories import PROJECT_ROOT

CAR_MODELS = ("car_evaluation_preprocess", "car_evaluation_model", "car_evaluation_postprocess")


def copy_car_repository(target: Path) -> Path:
    """A repository holding just the car pipeline: a server that starts in seconds."""
    for name in CAR_MODELS:
        shutil.copytree(PROJECT_ROOT / "model_repository" / name, target / name)
    shutil.copytree(PROJECT_ROOT / "ensembles" / "car_evaluation", target / "car_evaluation")
    return target


def probe_triton_options(tmp_path: Path) -> TritonOptions:
    """A Triton of its own serving only the probe pipeline, on free ports (for tests that stop,
    kill or break it: the session's server must stay up for the others)."""
    from sample_documents import FIXTURE_REPOSITORY

    repository = tmp_path / "repository"
    for model in ("page_probe", "page_probe_pipeline"):
        shutil.copytree(FIXTURE_REPOSITORY / model, repository / model)
    return TritonOptions(
        model_repositories=[repository], work_dir=tmp_path / "triton",
        ports=TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port()),
    )


def processes_mentioning(text: str) -> list[str]:
    """Live processes whose command line contains ``text`` (zombies have none and do not count)."""
    listing = subprocess.run(["ps", "-ww", "-eo", "pid=,stat=,args="], capture_output=True,
                             text=True, check=True)
    found = []
    for line in listing.stdout.splitlines():
        _pid, stat, args = line.split(None, 2)
        if text in args and not stat.startswith("Z") and not args.startswith("ps -ww"):
            found.append(line.strip())
    return found


def shm_regions_of(launcher_pid: int) -> list[Path]:
    """The /dev/shm regions of the embedded Triton started by ``launcher_pid``."""
    return sorted(SHM_DIR.glob(f"docserve_{launcher_pid}_*"))


def start_command(command: str, data_dir: Path, *args: str, env: dict[str, str] | None = None
                  ) -> subprocess.Popen:
    """``docserve COMMAND ARGS`` with its state in ``data_dir``, output on a pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "docserve.cli.main", command, *args],
        env={**os.environ, "DOCSERVE_DATA_DIR": str(data_dir), "DOCSERVE_LOG_JSON": "false",
             **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wait_for_line(process: subprocess.Popen, text: str, timeout_s: float) -> None:
    """Read the process's output until a line contains ``text``; fail with the tail if it never does."""
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


def wait_until_gone(data_dir: Path, launcher_pid: int, timeout_s: float) -> tuple[list[str], list[Path]]:
    """Wait (bounded) for the processes and shm regions of a launcher to disappear; what is left."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = processes_mentioning(str(data_dir)), shm_regions_of(launcher_pid)
        if left == ([], []) or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
