"""No job is lost: gateway restarts, a worker killed mid-job, Triton going away and coming back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest
import tritonclient.grpc.aio as grpcclient
from fastapi.testclient import TestClient
from job_polling import wait_for_job
from launched_service import probe_triton_options
from sample_documents import png_page

from docserve.api.app import create_app
from docserve.api.embedded_triton import EmbeddedTriton
from docserve.api.jobs.sqlite_jobs import SqliteJobs


def _submit(client, request_id, location):
    body = {"request_id": request_id, "pipeline": "page_probe_pipeline", "location": location}
    response = client.post("/api/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    return response


def test_restart_with_queued_and_in_flight_jobs(jobs_settings, probe_pipeline, inbox):
    for index in range(5):
        (inbox / f"p{index}.png").write_bytes(png_page(100 + index, 50))
    queued_only = jobs_settings.model_copy(update={"run_workers": False, "job_lease_s": 1.0})
    with TestClient(create_app(queued_only)) as client:
        for index in range(5):
            _submit(client, f"restart-{index}", f"file://{inbox}/p{index}.png")
    # A worker that took restart-0 and died with the gateway: its lease will run out.
    async def claim_and_die():
        store = SqliteJobs(jobs_settings.jobs_database, max_queue=100)
        in_flight = await store.claim("worker-that-died", lease_s=1.0, wait_s=0)
        await store.close()
        return in_flight

    in_flight = asyncio.run(claim_and_die())
    assert in_flight is not None and in_flight.request_id == "restart-0"

    with TestClient(create_app(jobs_settings)) as client:
        jobs = [wait_for_job(client, f"restart-{index}") for index in range(5)]
        listed = client.get("/api/v1/jobs", params={"limit": 100}).json()
    assert [job["status"] for job in jobs] == ["succeeded"] * 5
    assert [job["result"]["pages"][0]["result"]["page"]["width"] for job in jobs] == [100, 101, 102, 103, 104]
    assert jobs[0]["attempts"] == 2  # the dead worker's attempt counts
    assert all(job["attempts"] == 1 for job in jobs[1:])
    assert sorted(job["request_id"] for job in listed["jobs"]) == [f"restart-{i}" for i in range(5)]


def test_worker_process_killed_mid_job(jobs_settings, probe_pipeline, document_server, tmp_path):
    base, handler = document_server
    handler.documents["/slow-doc.png"] = png_page(77, 66)
    settings = jobs_settings.model_copy(
        update={"run_workers": False, "allow_private_hosts": True, "job_lease_s": 2.0}
    )
    env = {
        **os.environ,
        "DOCSERVE_DATA_DIR": str(settings.data_dir),
        "DOCSERVE_ALLOW_PRIVATE_HOSTS": "true",
        "DOCSERVE_JOB_LEASE_S": "2",
        "DOCSERVE_TRITON_GRPC_PORT": str(settings.triton_grpc_port),
        "DOCSERVE_LOG_JSON": "false",
    }
    with TestClient(create_app(settings)) as client:
        _submit(client, "killed-1", f"{base}/slow/slow-doc.png")  # the server waits 3 s
        worker = subprocess.Popen(
            [sys.executable, "-m", "docserve.cli.main", "worker"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            # A fresh worker process imports, connects and claims: seconds, more on a loaded machine.
            _wait_until(lambda: client.get("/api/v1/jobs/killed-1").json()["status"] == "processing",
                        timeout_s=60)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
        assert client.get("/api/v1/jobs/killed-1").json()["status"] == "processing"
    with TestClient(create_app(settings.model_copy(update={"run_workers": True}))) as client:
        job = wait_for_job(client, "killed-1", timeout_s=60)
    assert job["status"] == "succeeded"
    assert job["attempts"] == 2
    assert job["result"]["pages"][0]["result"]["page"]["width"] == 77


def test_a_graceful_stop_releases_the_jobs_in_flight(jobs_settings, probe_pipeline, document_server):
    """Stopped while a job runs, the gateway queues it again (no lease, the attempt not counted):
    the next start runs it at once instead of after the lease."""
    base, handler = document_server
    handler.documents["/released.png"] = png_page(83, 71)
    settings = jobs_settings.model_copy(update={"allow_private_hosts": True, "job_lease_s": 600.0})
    with TestClient(create_app(settings)) as client:
        _submit(client, "released-1", f"{base}/slow/released.png")  # the server waits 3 s
        _wait_until(lambda: client.get("/api/v1/jobs/released-1").json()["status"] == "processing")

    async def stored():
        store = SqliteJobs(settings.jobs_database, max_queue=100)
        try:
            return await store.get("released-1")
        finally:
            await store.close()

    released = asyncio.run(stored())
    assert (released.status, released.attempts) == ("queued", 0)
    with TestClient(create_app(settings)) as client:
        job = wait_for_job(client, "released-1", timeout_s=60)  # well within the 600 s lease
    assert job["status"] == "succeeded" and job["attempts"] == 1
    assert job["result"]["pages"][0]["result"]["page"]["width"] == 83


def test_triton_stopped_and_restarted_during_a_batch(jobs_settings, inbox, tmp_path):
    """Its own small Triton (the session's one must stay up for the other tests)."""
    options = probe_triton_options(tmp_path)
    settings = jobs_settings.model_copy(update={
        "triton_grpc_port": options.ports.grpc, "triton_retries": 0,
        "job_retry_base_s": 0.5, "job_max_attempts": 8,
    })
    for index in range(6):
        (inbox / f"t{index}.png").write_bytes(png_page(200 + index, 10))
    triton = EmbeddedTriton(options, log_sink=lambda line: None)
    triton.start()
    try:
        with TestClient(create_app(settings)) as client:
            assert [p["name"] for p in client.get("/api/v1/pipelines").json()] == ["page_probe_pipeline"]
            triton.stop()
            for index in range(6):
                _submit(client, f"outage-{index}", f"file://{inbox}/t{index}.png")
            _wait_until(lambda: _attempted(client, 6))  # every job met the outage at least once
            triton = EmbeddedTriton(options, log_sink=lambda line: None)
            triton.start()
            jobs = [wait_for_job(client, f"outage-{index}", timeout_s=60) for index in range(6)]
    finally:
        triton.stop()
    assert [job["status"] for job in jobs] == ["succeeded"] * 6
    assert [job["result"]["pages"][0]["result"]["page"]["width"] for job in jobs] == list(range(200, 206))
    assert all(job["attempts"] >= 2 for job in jobs)


def test_a_job_facing_a_stopped_triton_calls_it_once_per_attempt(jobs_settings, inbox, tmp_path,
                                                                 monkeypatch):
    """One retry policy per job: its attempts. The Triton client's own retries (3 here) do not
    multiply them; before, this job made 3 x (1 + 3) = 12 calls."""
    options = probe_triton_options(tmp_path)
    settings = jobs_settings.model_copy(update={
        "triton_grpc_port": options.ports.grpc, "triton_retries": 3,
        "job_retry_base_s": 0.05, "job_max_attempts": 3,
    })
    calls: list[str] = []  # every real gRPC infer call of the job, counted on its way out
    real_infer = grpcclient.InferenceServerClient.infer

    async def counted(self, model_name, *args, **kwargs):
        if kwargs.get("request_id") == "stopped-1":
            calls.append(model_name)
        return await real_infer(self, model_name, *args, **kwargs)

    monkeypatch.setattr(grpcclient.InferenceServerClient, "infer", counted)
    (inbox / "s.png").write_bytes(png_page(20, 10))
    triton = EmbeddedTriton(options, log_sink=lambda line: None)
    triton.start()
    try:
        with TestClient(create_app(settings)) as client:
            assert [p["name"] for p in client.get("/api/v1/pipelines").json()] == ["page_probe_pipeline"]
            triton.stop()
            _submit(client, "stopped-1", f"file://{inbox}/s.png")
            job = wait_for_job(client, "stopped-1", timeout_s=30)
    finally:
        triton.stop()
    assert (job["status"], job["error"]["code"], job["attempts"]) == ("failed", "triton_unavailable", 3)
    assert calls == ["page_probe_pipeline"] * 3


def _attempted(client: TestClient, count: int) -> bool:
    jobs = client.get("/api/v1/jobs", params={"limit": 100}).json()["jobs"]
    return len(jobs) == count and all(job["attempts"] >= 1 for job in jobs)


def test_a_job_whose_pipeline_is_reloaded_meanwhile_is_retried_and_succeeds(jobs_settings, probe_pipeline,
                                                                              triton, inbox):
    """The job is accepted while its pipeline is loaded; when it runs, Triton has it unloaded (an
    operator's unload and load): the attempt is retried, and the job succeeds once it is back."""
    (inbox / "p.png").write_bytes(png_page(91, 47))
    settings = jobs_settings.model_copy(update={
        "pipeline_cache_ttl_s": 600.0, "job_retry_base_s": 0.2, "job_max_attempts": 30})

    async def set_loaded(loaded: bool) -> None:
        client = grpcclient.InferenceServerClient(triton.grpc_url)
        try:
            await (client.load_model if loaded else client.unload_model)(probe_pipeline)
        finally:
            await client.close()

    with TestClient(create_app(settings)) as client:
        assert probe_pipeline in {found["name"] for found in client.get("/api/v1/pipelines").json()}
        asyncio.run(set_loaded(False))
        try:
            _submit(client, "reloaded-pipeline", f"file://{inbox}/p.png")  # accepted: it was there
            _wait_until(lambda: client.get("/api/v1/jobs/reloaded-pipeline").json()["attempts"] >= 2)
        finally:
            asyncio.run(set_loaded(True))
        job = wait_for_job(client, "reloaded-pipeline")
    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["pages"][0]["result"]["page"]["width"] == 91


def test_a_thousand_queued_jobs_keep_gateway_memory_flat(jobs_settings, probe_pipeline, inbox):
    """Queued jobs live in SQLite, not in the gateway: 1,000 of them cost it a few MB at most."""
    (inbox / "one.png").write_bytes(png_page())
    settings = jobs_settings.model_copy(update={"run_workers": False, "max_queue": 5000})
    with TestClient(create_app(settings)) as client:
        for index in range(50):  # warm up allocators and caches before measuring
            _submit(client, f"warm-{index}", f"file://{inbox}/one.png")
        before = _rss_mb()
        for index in range(1000):
            _submit(client, f"many-{index}", f"file://{inbox}/one.png")
        grown = _rss_mb() - before
        counts = client.get("/api/v1/jobs", params={"limit": 1}).json()["counts"]
    assert counts == {"queued": 1050}
    assert grown < 30, f"gateway RSS grew {grown:.1f} MB for 1,000 queued jobs"


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _wait_until(condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture(autouse=True)
def _no_stray_workers() -> None:
    """Each test above owns its processes; none may survive it."""
    yield
    listing = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
    assert "docserve.cli.main worker" not in listing
