"""A pipeline step whose Triton stub process dies mid-load: found, reported, reloaded, and no job
fails for it. Its own small Triton (the session's one must stay whole for the other tests)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
from launched_service import probe_triton_options
from live_gateway import serve
from sample_documents import png_page

from docserve.api.app import create_app
from docserve.api.embedded_triton import EmbeddedTriton, free_port
from docserve.api.metrics import GatewayMetrics
from docserve.api.step_repair import StepRepair
from docserve.contract.errors import StepDownError
from docserve.inference.pipelines import PipelineCatalog
from docserve.inference.triton_client import TritonClient

JOBS = 40


def _kill_stub(triton: EmbeddedTriton, instance: str) -> None:
    """SIGKILL the python backend stub of ``instance``: a child of this test's own Triton."""
    children = subprocess.run(["pgrep", "-P", str(triton.pid)], capture_output=True, text=True).stdout
    for pid in map(int, children.split()):
        if instance in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0"):
            os.kill(pid, signal.SIGKILL)
            return
    raise AssertionError(f"no stub process for {instance} under Triton {triton.pid}")


def _wait(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_step_is_reloaded_and_every_job_succeeds(jobs_settings, inbox, tmp_path):
    options = probe_triton_options(tmp_path)
    settings = jobs_settings.model_copy(update={
        "triton_grpc_port": options.ports.grpc, "job_retry_base_s": 0.3, "job_max_attempts": 8,
        "step_probe_interval_s": 0.5,
        "triton_retries": 0,  # a job that meets the dead step is retried as a job (attempts > 1)
    })
    for index in range(JOBS):
        (inbox / f"p{index}.png").write_bytes(png_page(100 + index, 30))
    triton = EmbeddedTriton(options, log_sink=lambda line: None)
    triton.start()
    try:
        jobs, readiness, predict, health, metrics = _kill_a_stub_during_jobs(triton, settings, inbox)
    finally:
        triton.stop(timeout_s=5)  # Triton waits for the dead stub's old instance on shutdown
    assert [job["status"] for job in jobs] == ["succeeded"] * JOBS, [j.get("error") for j in jobs]
    assert [job["result"]["pages"][0]["result"]["page"]["width"] for job in jobs] == list(range(100, 140))
    assert any(job["attempts"] > 1 for job in jobs)  # some met the dead step and were retried
    assert 503 in readiness and readiness[-1] == 200  # not ready while the step was down, then ready
    assert predict.status_code == 200, predict.text
    assert health["triton"] == "ready" and health["steps_down"] == {}
    assert 'docserve_step_repairs_total{model="page_probe",outcome="detected"}' in metrics
    assert 'docserve_step_repairs_total{model="page_probe",outcome="repaired"}' in metrics


def _kill_a_stub_during_jobs(triton: EmbeddedTriton, settings, inbox: Path):
    """Jobs through a real gateway; the stub dies while they run. What clients saw, after."""
    readiness: list[int] = []
    stop = threading.Event()
    with serve(create_app(settings)) as (host, port), \
            httpx.Client(base_url=f"http://{host}:{port}", timeout=30) as client:
        def watch_readiness() -> None:
            with httpx.Client(base_url=f"http://{host}:{port}", timeout=30) as probe:
                while not stop.is_set():
                    readiness.append(probe.get("/readyz").status_code)
                    time.sleep(0.05)

        watcher = threading.Thread(target=watch_readiness, daemon=True)
        watcher.start()
        _wait(lambda: readiness and readiness[-1] == 200)

        def submit(index: int) -> None:
            response = client.post("/api/v1/jobs", json={
                "request_id": f"stub-{index}", "pipeline": "page_probe_pipeline",
                "location": f"file://{inbox}/p{index}.png"})
            assert response.status_code == 202, response.text

        for index in range(JOBS // 2):
            submit(index)
        _wait(lambda: client.get("/api/v1/jobs/stub-0").json()["status"] == "succeeded")
        _kill_stub(triton, "page_probe_0_0")  # while the rest of the first half is in flight
        for index in range(JOBS // 2, JOBS):
            submit(index)
        _wait(lambda: all(client.get(f"/api/v1/jobs/stub-{index}").json()["status"]
                          in ("succeeded", "failed") for index in range(JOBS)), timeout_s=120)
        jobs = [client.get(f"/api/v1/jobs/stub-{index}").json() for index in range(JOBS)]
        _wait(lambda: readiness[-1] == 200)
        predict = client.post("/api/v1/pipelines/page_probe_pipeline/predict",
                              files={"document": ("p.png", png_page(55, 44))})
        health = client.get("/api/v1/health").json()
        metrics = client.get("/metrics").text
        stop.set()
        watcher.join(timeout=10)
    return jobs, readiness, predict, health, metrics


def test_the_retry_after_of_a_dead_step_follows_its_reload_schedule():
    """Reloads that keep failing (here a closed port refuses them) back off, waiting about 0.5, 1,
    2, then 4 s; a request meeting the step is told to come back when the next reload begins."""
    async def scenario() -> tuple[int, int, dict[str, str]]:
        triton = TritonClient(f"127.0.0.1:{free_port()}")
        repair = StepRepair(triton, PipelineCatalog(triton), GatewayMetrics(), probe_interval_s=60)
        down = StepDownError("step 'page_probe' is down", model="page_probe")
        try:
            first = repair.report(down)  # a reload begins now
            await asyncio.sleep(5.0)  # four reloads failed (by 3.9 s): the fifth begins at 6.7 to 8.3 s
            return first, repair.report(down), dict(repair.down)
        finally:
            await repair.close()
            await triton.close()

    first, later, down = asyncio.run(scenario())
    assert first == 1
    assert 2 <= later <= 4
    assert down == {"page_probe": "step 'page_probe' is down"}
