"""How close docserve comes to the machine's limit, per pipeline, side by side in one run.

    .venv/bin/python bench/limit.py [--pages 12] [--pipeline P ...] [--quick]

For each document pipeline, on the same generated documents (all five types, held-out seeds):
- limit: the same ONNX models and shared pre/post-processing code, called in one Python loop
  in this process (docserve.export.reference_pipelines: no serving at all, what this machine
  can do; onnxruntime with 2 threads);
- gRPC: the pipeline's Triton ensemble over gRPC, encoded pages in, at concurrency 1, 4, 16;
- REST jobs: the same pages as jobs through the gateway (send + poll), at concurrency 1, 4, 16.
Prints pages/s, p50/p95 latency per page, and each path's throughput as a ratio of the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import Docserve, Load, document_pages, start_docserve

from docserve.client.rest import AsyncDocServeClient
from docserve.client.triton import TritonPipelineClient
from docserve.contract.jobs import JobStatus
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export.reference_pipelines import PIPELINES, ReferencePipelines

REPOSITORY = PROJECT_ROOT / "model_repository"
THREADS = 2  # onnxruntime threads of the in-process limit: every core of this machine
# Pages sent at once before a gRPC measurement: at least the largest instance count in the
# repository, so no instance's first call (arenas, allocations) lands in the measured tail.
WARM_UP_PAGES = 4


def measure_limit(reference: Callable[[bytes], object], pages: list[bytes]) -> Load:
    reference(pages[0])  # warm-up: onnxruntime arenas, first-call allocations
    latencies = []
    started = time.perf_counter()
    for page in pages:
        page_started = time.perf_counter()
        reference(page)
        latencies.append(time.perf_counter() - page_started)
    return Load(len(pages), time.perf_counter() - started, latencies)


async def measure_grpc(url: str, pipeline: str, pages: list[bytes], concurrency: int) -> Load:
    async with TritonPipelineClient(url) as client:
        await asyncio.gather(*(client.analyze(page, pipeline) for page in pages[:WARM_UP_PAGES]))
        latencies: list[float] = []
        limit = asyncio.Semaphore(concurrency)

        async def one(page: bytes) -> None:
            async with limit:
                page_started = time.perf_counter()
                await client.analyze(page, pipeline)
                latencies.append(time.perf_counter() - page_started)

        started = time.perf_counter()
        await asyncio.gather(*(one(page) for page in pages))
        return Load(len(pages), time.perf_counter() - started, latencies)


async def measure_jobs(docserve: Docserve, pipeline: str, paths: list[Path], concurrency: int, run: str
                       ) -> Load:
    async with AsyncDocServeClient(docserve.url, timeout=300) as client:
        latencies: list[float] = []
        limit = asyncio.Semaphore(concurrency)

        async def one(index: int, path: Path) -> None:
            async with limit:
                page_started = time.perf_counter()
                request_id = f"{run}-{index}"
                await client.send(request_id, f"file://{path}", pipeline)
                job = await client.wait(request_id, timeout=300)
                if job.status != JobStatus.SUCCEEDED:
                    raise RuntimeError(f"{request_id}: {job.error}")
                latencies.append(time.perf_counter() - page_started)

        started = time.perf_counter()
        await asyncio.gather(*(one(index, path) for index, path in enumerate(paths)))
        return Load(len(paths), time.perf_counter() - started, latencies)


def table(pipeline: str, limit: Load, rows: list[tuple[str, int, Load]]) -> str:
    lines = [
        f"\n### `{pipeline}`: {limit.requests} generated documents\n",
        "| path | concurrency | pages/s | p50 s | p95 s | x limit |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| limit: in-process loop | 1 | {limit.per_second:.2f} | {limit.p50:.3f} | {limit.p95:.3f} | 1.00 |",
    ]
    for name, concurrency, load in rows:
        lines.append(
            f"| {name} | {concurrency} | {load.per_second:.2f} | {load.p50:.3f} | {load.p95:.3f} | "
            f"{load.per_second / limit.per_second:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument("--pipeline", action="append", choices=sorted(PIPELINES),
                        help="measure only these (repeat); default: all")
    parser.add_argument("--quick", action="store_true", help="8 pages, concurrency 1 and 4")
    args = parser.parse_args()
    levels = (1, 4) if args.quick else (1, 4, 16)
    count = 8 if args.quick else args.pages
    with tempfile.TemporaryDirectory() as scratch:
        inbox = Path(scratch) / "inbox"
        paths = document_pages(count, inbox)
        pages = [path.read_bytes() for path in paths]
        # Workers match the highest concurrency so the jobs path is throttled by the client only.
        docserve = start_docserve(Path(scratch) / "data", inbox, DOCSERVE_WORKER_CONCURRENCY="16")
        try:
            references = ReferencePipelines(REPOSITORY, threads=THREADS)
            for pipeline in args.pipeline or sorted(PIPELINES):
                reference = references.pipeline(pipeline)
                first_limit = measure_limit(reference, pages)
                rows = []
                for concurrency in levels:
                    grpc = asyncio.run(measure_grpc(docserve.triton_grpc, pipeline, pages, concurrency))
                    rows.append(("Triton gRPC (direct)", concurrency, grpc))
                    rows.append(("REST jobs (send + poll)", concurrency,
                                 asyncio.run(measure_jobs(docserve, pipeline, paths, concurrency,
                                                          f"{pipeline}-c{concurrency}"))))
                # Measured before and after the served paths; the faster of the two is the limit, so
                # load from elsewhere on the machine can only make the ratios look worse.
                limit = max(first_limit, measure_limit(reference, pages), key=lambda load: load.per_second)
                print(table(pipeline, limit, rows), flush=True)
        finally:
            docserve.stop()


if __name__ == "__main__":
    main()
