"""The scale-out mode against the embedded default: the same pages, one run, side by side.

    .venv/bin/python bench/scale_out.py [--pipeline signature_check] [--documents 60] [--queued 10000]
                                        [--quick]

For each queue (``sqlite``: the SQLite file is store and queue; ``kafka``: Tansu broker +
MongoDB-wire store (nx-27017) + Redis cache, the real servers the tests use) it starts
``docserve serve`` (embedded Triton + gateway, workers off) and then 1, then 2 ``docserve
worker`` processes, and drives the gateway over HTTP like a client: ``--concurrency`` client
tasks each send a job (a rendered page in the inbox) and poll until its result. Then it queues
``--queued`` jobs on a Kafka gateway without workers and reads its RSS. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from harness import Docserve, rss_mb, start_docserve, text_pages
from jobs import throughput

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from real_servers import create_topics, mongo_wire, redis, tansu

BIN = Path(sys.executable).parent


def kafka_env(bootstrap: str, mongo_port: int, redis_port: int) -> dict[str, str]:
    run = uuid.uuid4().hex[:8]
    return {
        "DOCSERVE_QUEUE": "kafka", "DOCSERVE_STORE": "mongodb",
        "DOCSERVE_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DOCSERVE_KAFKA_REQUEST_TOPIC": f"req-{run}",
        "DOCSERVE_KAFKA_RESULT_TOPIC": f"res-{run}", "DOCSERVE_KAFKA_DEAD_LETTER_TOPIC": f"dead-{run}",
        "DOCSERVE_KAFKA_CONSUMER_GROUP": f"workers-{run}", "DOCSERVE_SCHEMA_REGISTRY_URL": f"mock://{run}",
        "DOCSERVE_MONGODB_URL": f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true",
        "DOCSERVE_MONGODB_DATABASE": f"bench{run}", "DOCSERVE_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DOCSERVE_MAX_QUEUE": "1000000",
    }


def start_workers(count: int, docserve: Docserve, env: dict[str, str]) -> list[subprocess.Popen]:
    worker_env = {**os.environ, **env, "DOCSERVE_TRITON_GRPC_PORT": docserve.triton_grpc.rsplit(":", 1)[1],
                  "DOCSERVE_LOG_LEVEL": "WARNING"}
    workers = [subprocess.Popen([str(BIN / "docserve"), "worker"], env=worker_env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True) for _ in range(count)]
    for worker in workers:
        assert worker.stdout is not None
        for line in worker.stdout:
            if "worker ready" in line:
                break
    return workers


def stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=60)


def measure(mode: str, env: dict[str, str], folder: Path, inbox: Path, documents: list[Path], pipeline: str,
            concurrency: int) -> dict[int, dict]:
    docserve = start_docserve(folder / mode, inbox, workers=False, **env)
    results = {}
    try:
        for count in (1, 2):
            workers = start_workers(count, docserve, {**env, "DOCSERVE_DATA_DIR": str(folder / mode),
                                                      "DOCSERVE_FILE_ROOTS": str(inbox)})
            try:
                time.sleep(8)  # the consumer group settles (partitions assigned) before the clock starts
                tag = f"{mode}{count}"
                asyncio.run(throughput(docserve.url, pipeline, documents[:4], 2, prefix=f"warm-{tag}"))
                results[count] = asyncio.run(
                    throughput(docserve.url, pipeline, documents, concurrency, prefix=f"run-{tag}"))
            finally:
                stop(workers)
    finally:
        docserve.stop()
    return results


async def queue_many(base: str, pipeline: str, location: str, count: int, lanes: int = 16) -> float:
    pending = iter(range(count))

    async def lane(client: httpx.AsyncClient) -> None:
        for index in pending:
            body = {"request_id": f"queued-{index}", "pipeline": pipeline, "location": location}
            (await client.post("/api/v1/jobs", json=body)).raise_for_status()

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        await asyncio.gather(*(lane(client) for _ in range(lanes)))
    return time.perf_counter() - started


def print_throughput(args: argparse.Namespace, results: dict[str, dict[int, dict]]) -> None:
    print(f"\n### Kafka + MongoDB + Redis vs SQLite: pipeline `{args.pipeline}`, {args.documents} one-page "
          f"documents, {args.concurrency} concurrent REST clients (send, then poll every 20 ms)\n")
    print("| queue | worker processes | jobs | seconds | jobs/s | p50 send->result s | p95 send->result s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for mode, by_count in results.items():
        for count, result in by_count.items():
            print(f"| {mode} | {count} | {result['jobs']} | {result['seconds']:.1f} | "
                  f"{result['jobs_per_s']:.2f} | {result['p50_s']:.2f} | {result['p95_s']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="signature_check")
    parser.add_argument("--documents", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="16 documents, 1,000 queued")
    args = parser.parse_args()
    if args.quick:
        args.documents, args.queued = 16, 1000
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        inbox = folder / "inbox"
        documents = text_pages(args.documents, inbox, size=(800, 300))
        servers = [tansu(folder), mongo_wire(folder), redis(folder)]
        broker, mongo, cache = (server.start() for server in servers)
        try:
            bootstrap = f"127.0.0.1:{broker.port}"
            env = kafka_env(bootstrap, mongo.port, cache.port)
            create_topics(bootstrap, [env["DOCSERVE_KAFKA_REQUEST_TOPIC"], env["DOCSERVE_KAFKA_RESULT_TOPIC"],
                                      env["DOCSERVE_KAFKA_DEAD_LETTER_TOPIC"]])
            results = {
                "sqlite": measure("sqlite", {"DOCSERVE_MAX_QUEUE": "1000000"}, folder, inbox, documents,
                                  args.pipeline, args.concurrency),
                "kafka": measure("kafka", env, folder, inbox, documents, args.pipeline, args.concurrency),
            }
            print_throughput(args, results)
            queued_env = kafka_env(bootstrap, mongo.port, cache.port)
            create_topics(bootstrap, [queued_env["DOCSERVE_KAFKA_REQUEST_TOPIC"]])
            docserve = start_docserve(folder / "queued", inbox, workers=False, **queued_env)
            try:
                idle_rss, _ = rss_mb(docserve.process.pid)
                seconds = asyncio.run(queue_many(docserve.url, args.pipeline, f"file://{documents[0]}",
                                                 args.queued))
                queued_rss, queued_peak = rss_mb(docserve.process.pid)
            finally:
                docserve.stop()
        finally:
            for server in servers:
                server.stop()

    print(f"\n### Kafka gateway with {args.queued} jobs queued (no workers)\n")
    print("| RSS idle MB | RSS with queue MB | peak RSS MB | seconds to queue | submissions/s |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| {idle_rss:.0f} | {queued_rss:.0f} | {queued_peak:.0f} | {seconds:.1f} | "
          f"{args.queued / seconds:.0f} |")


if __name__ == "__main__":
    main()
