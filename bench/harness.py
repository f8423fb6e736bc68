"""What the benchmarks share: pages to send, a `docserve serve` to measure, and how to read it.

Everything runs on 127.0.0.1 and stops by itself; request counts are bounded by the callers.
"""

from __future__ import annotations

import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from docserve.api.embedded_triton import EmbeddedTriton, TritonOptions, TritonPorts, free_port
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export.documents.generator import generate_page
from docserve.export.synthetic_text_pages import render_text_page

BIN = Path(sys.executable).parent


def text_pages(count: int, folder: Path, size: tuple[int, int] = (1000, 700)) -> list[Path]:
    """``count`` rendered text pages (PNG, 12 lines each) written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"page-{index:04d}.png"
        path.write_bytes(render_text_page(seed=index, size=size, line_count=12).image_bytes)
        paths.append(path)
    return paths


HELD_OUT_SEED = 10_000_000  # pages no model was trained or tuned on


def document_pages(count: int, folder: Path) -> list[Path]:
    """``count`` generated documents (PNG; all five types, skewed, scan artefacts) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"document-{index:04d}.png"
        buffer = io.BytesIO()
        Image.fromarray(generate_page(HELD_OUT_SEED + index).image).save(buffer, format="PNG")
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


@contextmanager
def embedded_triton() -> Iterator[EmbeddedTriton]:
    """A fresh embedded Triton serving the project's repositories, its log silenced."""
    ports = TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port())
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as work_dir:
        options = TritonOptions(
            model_repositories=[PROJECT_ROOT / "model_repository", PROJECT_ROOT / "ensembles"],
            work_dir=Path(work_dir),
            ports=ports,
        )
        with EmbeddedTriton(options, log_sink=lambda line: None) as server:
            yield server



@dataclass
class Docserve:
    """A running ``docserve serve`` (embedded Triton + gateway) in its own process."""

    process: subprocess.Popen
    url: str
    triton_grpc: str

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


def start_docserve(data_dir: Path, inbox: Path, workers: bool = True, **env_overrides: str) -> Docserve:
    port, http, grpc, metrics = (free_port() for _ in range(4))
    env = {
        **os.environ,
        "DOCSERVE_DATA_DIR": str(data_dir),
        "DOCSERVE_FILE_ROOTS": str(inbox),
        "DOCSERVE_RUN_WORKERS": "true" if workers else "false",
        "DOCSERVE_LOG_LEVEL": "WARNING",
        "DOCSERVE_MAX_QUEUE": "5000",
        **env_overrides,
    }
    command = [
        str(BIN / "docserve"), "serve", "--port", str(port), "--triton-http-port", str(http),
        "--triton-grpc-port", str(grpc), "--triton-metrics-port", str(metrics),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if "docserve is up" in line:
            return Docserve(process, f"http://127.0.0.1:{port}", f"127.0.0.1:{grpc}")
    raise RuntimeError("docserve serve did not start")


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of one process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _descendants(pid: int) -> list[int]:
    """A process and all its descendants (gateway or Triton + python stubs)."""
    listing = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in listing.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack += children.get(current, [])
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its live descendants: what a
    request costs in cores, whatever else the machine runs (wall time depends on that)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for process in _descendants(pid):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and all its descendants (gateway + Triton + python stubs), in MB."""
    listing = subprocess.run(["ps", "-eo", "pid=,ppid=,rss="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for line in listing.splitlines():
        child, parent, kilobytes = map(int, line.split())
        children.setdefault(parent, []).append(child)
        rss[child] = kilobytes
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack += children.get(current, [])
    return total / 1024


@dataclass(frozen=True)
class Load:
    """Throughput and latency of one measured run."""

    requests: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p95(self) -> float:
        return float(np.percentile(self.latencies, 95))
