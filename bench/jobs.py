"""End-to-end jobs: throughput, send-to-result latency, and gateway memory with a full queue.

    .venv/bin/python bench/jobs.py [--pipeline signature_check] [--documents 200] [--concurrency 8] [--quick]

Starts ``docserve serve`` (embedded Triton + gateway with its workers) on free loopback ports,
with a private data dir, and drives it over HTTP like a client: each of ``--concurrency`` client
tasks sends a job (a small rendered page in the inbox) and polls until it has its result.
Then it starts the gateway again without workers, queues 1,000 jobs, and reads the gateway
process's peak RSS (VmHWM) before and after. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from harness import rss_mb, start_docserve, text_pages


async def run_job(client: httpx.AsyncClient, request_id: str, pipeline: str, location: str) -> float:
    started = time.perf_counter()
    body = {"request_id": request_id, "pipeline": pipeline, "location": location}
    response = await client.post("/api/v1/jobs", json=body)
    response.raise_for_status()
    while True:
        job = (await client.get(f"/api/v1/jobs/{request_id}")).json()
        if job["status"] in ("succeeded", "failed"):
            if job["status"] != "succeeded":
                raise RuntimeError(f"{request_id} failed: {job['error']}")
            return time.perf_counter() - started
        await asyncio.sleep(0.02)


async def throughput(base: str, pipeline: str, documents: list[Path], concurrency: int,
                     prefix: str = "bench") -> dict:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(documents)):
        queue.put_nowait(index)
    latencies: list[float] = []

    async def client_task(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            location = f"file://{documents[index]}"
            latencies.append(await run_job(client, f"{prefix}-{index}", pipeline, location))

    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_task(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "jobs": len(latencies), "seconds": elapsed, "jobs_per_s": len(latencies) / elapsed,
        "p50_s": statistics.median(latencies), "p95_s": float(np.percentile(latencies, 95)),
    }


async def queue_many(base: str, pipeline: str, location: str, count: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for index in range(count):
            body = {"request_id": f"queued-{index}", "pipeline": pipeline, "location": location}
            (await client.post("/api/v1/jobs", json=body)).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="signature_check")
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--queued", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="20 documents, 200 queued")
    args = parser.parse_args()
    if args.quick:
        args.documents, args.queued = 20, 200
    with tempfile.TemporaryDirectory() as scratch:
        inbox = Path(scratch) / "inbox"
        documents = text_pages(args.documents, inbox, size=(800, 300))

        docserve = start_docserve(Path(scratch) / "run", inbox, workers=True)
        try:
            asyncio.run(throughput(docserve.url, args.pipeline, documents[:8], 2))  # warm-up
            result = asyncio.run(throughput(docserve.url, args.pipeline, documents, args.concurrency))
        finally:
            docserve.stop()

        docserve = start_docserve(Path(scratch) / "queue", inbox, workers=False)
        try:
            idle_rss, _ = rss_mb(docserve.process.pid)
            asyncio.run(queue_many(docserve.url, args.pipeline, f"file://{documents[0]}", args.queued))
            queued_rss, queued_peak = rss_mb(docserve.process.pid)
        finally:
            docserve.stop()

    print(f"\n### Jobs end to end: pipeline `{args.pipeline}`, {args.documents} one-page documents, "
          f"{args.concurrency} concurrent clients (send, then poll every 20 ms)\n")
    print("| jobs | seconds | jobs/s | p50 send->result s | p95 send->result s |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| {result['jobs']} | {result['seconds']:.1f} | {result['jobs_per_s']:.2f} | "
          f"{result['p50_s']:.2f} | {result['p95_s']:.2f} |")
    print(f"\n### Gateway memory with {args.queued} jobs queued (workers off)\n")
    print("| RSS idle MB | RSS with queue MB | peak RSS MB |")
    print("| --- | --- | --- |")
    print(f"| {idle_rss:.0f} | {queued_rss:.0f} | {queued_peak:.0f} |")


if __name__ == "__main__":
    main()
