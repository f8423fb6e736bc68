"""A pipeline step whose Triton stub process dies mid-load: found, reported, reloaded, verified, and
no job fails for it: on a small Triton of its own (the probe pipeline), and on the session's Triton
for each kind of step of the real pipelines (which the test leaves repaired for the others)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from launched_service import probe_triton_options
from live_gateway import serve
from PIL import Image, ImageDraw, ImageFont
from sample_documents import png_page

from docserve.api.app import create_app
from docserve.api.embedded_triton import EmbeddedTriton, free_port
from docserve.api.metrics import GatewayMetrics
from docserve.api.step_repair import FIRST_REPAIR_ESTIMATE_S, StepRepair
from docserve.contract.errors import StepDownError
from docserve.inference.pipelines import PipelineCatalog, analyze_page
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


def _stubs(triton: EmbeddedTriton, model: str) -> dict[str, int]:
    """The stub processes of ``model``'s instances (``<model>_<group>_<index>``) under ``triton``."""
    children = subprocess.run(["pgrep", "-P", str(triton.pid)], capture_output=True, text=True).stdout
    stubs = {}
    for pid in map(int, children.split()):
        with contextlib.suppress(FileNotFoundError):
            for arg in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0"):
                if re.fullmatch(rf"{model}_\d+_\d+", arg):
                    stubs[arg] = pid
    return stubs


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
        triton.stop()
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
    2, then 4 s; a request meeting the step is told to come back when the next reload begins plus
    how long a repair takes (5 s until one is measured)."""
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
    assert first == FIRST_REPAIR_ESTIMATE_S
    assert 2 + FIRST_REPAIR_ESTIMATE_S <= later <= 4 + FIRST_REPAIR_ESTIMATE_S
    assert down == {"page_probe": "step 'page_probe' is down"}


def test_a_dead_step_is_answered_at_once_not_retried(tmp_path):
    """A synchronous call that meets a dead step gets its 503 after one try: retrying at once (the
    client's policy allows three more) would only meet the dead stub again while the caller waits."""
    triton = EmbeddedTriton(probe_triton_options(tmp_path), log_sink=lambda line: None)
    triton.start()
    calls: list[str] = []

    async def call_through_the_dead_step() -> None:
        client = TritonClient(triton.grpc_url, retries=3, backoff_s=0.01)
        send = client._client.infer

        def counted(model, *args, **kwargs):  # each gRPC call the client makes to the real Triton
            calls.append(model)
            return send(model, *args, **kwargs)

        client._client.infer = counted
        try:
            pipeline = await PipelineCatalog(client).get("page_probe_pipeline")
            await analyze_page(client, pipeline, png_page(80, 80))  # the stub is alive
            _kill_stub(triton, "page_probe_0_0")
            await analyze_page(client, pipeline, png_page(80, 80))
        finally:
            await client.close()

    try:
        with pytest.raises(StepDownError, match="page_probe"):
            asyncio.run(call_through_the_dead_step())
    finally:
        triton.stop()
    assert calls == ["page_probe_pipeline"] * 2  # the live call, then the one that met the dead stub


def _text_page(index: int) -> bytes:
    """A page with printed lines: the OCR recognizer (called through BLS) runs on it."""
    page = Image.new("L", (360, 120), 255)
    font = ImageFont.load_default(size=26)
    ImageDraw.Draw(page).text((10, 12), f"Invoice {1000 + index}", fill=0, font=font)
    ImageDraw.Draw(page).text((10, 64), "Total 42.00", fill=0, font=font)
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    return buffer.getvalue()


# The three kinds of step a stub death can take: (the model whose stubs die, the pipelines of the
# jobs sent while it is down). page_decode is the first step of every pipeline; text_recognition is
# no ensemble's step, ocr_lines calls it through BLS (inside page_ocr, itself an ensemble's step);
# page_thumbnail is a step of four pipelines (signature_check and checkbox_form among them).
KINDS = {
    "top-level step": ("page_decode", ["ocr", "signature_check"]),
    "step called through BLS": ("text_recognition", ["ocr"]),
    "step shared by several pipelines": ("page_thumbnail", ["signature_check", "checkbox_form"]),
}
BURST = 8


@pytest.mark.parametrize("kind", KINDS)
def test_every_job_succeeds_when_a_step_of_a_real_pipeline_dies(kind, triton, jobs_settings, inbox):
    """Every stub of the step is SIGKILLed during a burst of jobs on the session's Triton: the step is
    reloaded (new stub processes), verified by a probe page through its pipelines, readiness is
    false until then, and every job succeeds."""
    model, pipelines = KINDS[kind]
    settings = jobs_settings.model_copy(update={  # the product's retry defaults: 5 attempts from 1 s
        "job_retry_base_s": 1.0, "job_max_attempts": 5, "job_lease_s": 60.0, "step_probe_interval_s": 600.0})
    for index in range(BURST):
        (inbox / f"t{index}.png").write_bytes(_text_page(index))
    readiness: list[int] = []
    stop = threading.Event()
    with serve(create_app(settings)) as (host, port), \
            httpx.Client(base_url=f"http://{host}:{port}", timeout=60) as client:
        def watch_readiness() -> None:
            with httpx.Client(base_url=f"http://{host}:{port}", timeout=60) as probe:
                while not stop.is_set():
                    readiness.append(probe.get("/readyz").status_code)
                    time.sleep(0.05)

        watcher = threading.Thread(target=watch_readiness, daemon=True)
        watcher.start()
        _wait(lambda: readiness and readiness[-1] == 200, timeout_s=120)
        ids = [f"{model}-{index}" for index in range(BURST)]
        for index, request_id in enumerate(ids):
            response = client.post("/api/v1/jobs", json={
                "request_id": request_id, "pipeline": pipelines[index % len(pipelines)],
                "location": f"file://{inbox}/t{index}.png"})
            assert response.status_code == 202, response.text
        _wait(lambda: client.get(f"/api/v1/jobs/{ids[0]}").json()["status"] != "queued", timeout_s=120)
        dead = _stubs(triton, model)
        assert dead, f"no stub process for {model}"
        for pid in dead.values():  # every instance: no request can go round the dead one
            os.kill(pid, signal.SIGKILL)
        _wait(lambda: all(client.get(f"/api/v1/jobs/{request_id}").json()["status"] in ("succeeded", "failed")
                          for request_id in ids), timeout_s=300)
        jobs = [client.get(f"/api/v1/jobs/{request_id}").json() for request_id in ids]
        _wait(lambda: readiness[-1] == 200, timeout_s=120)
        health = client.get("/api/v1/health").json()
        metrics = client.get("/metrics").text
        stop.set()
        watcher.join(timeout=10)
    assert [job["status"] for job in jobs] == ["succeeded"] * BURST, [job["error"] for job in jobs]
    assert any(job["attempts"] > 1 for job in jobs)  # some met the dead step, and were retried
    assert 503 in readiness and readiness[-1] == 200  # not ready until the repair was verified
    assert health["triton"] == "ready" and health["steps_down"] == {}
    assert f'docserve_step_repairs_total{{model="{model}",outcome="repaired"}}' in metrics
    fresh = _stubs(triton, model)
    assert len(fresh) == len(dead) and not set(fresh.values()) & set(dead.values())  # new processes
    if model == "text_recognition":  # the recognizer read the pages' lines again
        assert all(job["result"]["pages"][0]["result"]["text"]["lines"] for job in jobs)
