"""Per-pipeline latency and throughput over direct Triton gRPC (the high-throughput path).

    .venv/bin/python bench/pipelines.py [--pages 8] [--quick]

Every document pipeline Triton serves gets the same generated documents (all five types, skewed,
with scan artefacts; held-out seeds), one page per request, at concurrency 1 and 8. Prints pages/s
and p50/p95 latency per page, and the page result's own step timings (median).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from harness import Load, document_pages, start_docserve

from docserve.client.triton import TritonPipelineClient


async def measure(url: str, pipeline: str, pages: list[bytes], concurrency: int
                  ) -> tuple[Load, dict[str, float]]:
    async with TritonPipelineClient(url) as client:
        await client.analyze(pages[0], pipeline)  # warm-up
        latencies: list[float] = []
        timings: dict[str, list[float]] = {}
        limit = asyncio.Semaphore(concurrency)

        async def one(page: bytes) -> None:
            async with limit:
                started = time.perf_counter()
                result = await client.analyze(page, pipeline)
                latencies.append(time.perf_counter() - started)
                for step, ms in result.timings_ms.items():
                    timings.setdefault(step, []).append(ms)

        started = time.perf_counter()
        await asyncio.gather(*(one(page) for page in pages))
        load = Load(len(pages), time.perf_counter() - started, latencies)
        return load, {step: statistics.median(values) for step, values in timings.items()}


async def pipeline_names(url: str) -> list[str]:
    async with TritonPipelineClient(url) as client:
        return sorted(pipeline.name for pipeline in await client.pipelines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="6 pages")
    args = parser.parse_args()
    count = 6 if args.quick else args.pages
    with tempfile.TemporaryDirectory() as scratch:
        inbox = Path(scratch) / "inbox"
        pages = [path.read_bytes() for path in document_pages(count, inbox)]
        docserve = start_docserve(Path(scratch) / "data", inbox, workers=False)
        try:
            print(f"\n### Pipelines over direct gRPC: {count} generated documents (all types)\n")
            print("| pipeline | concurrency | pages/s | p50 s | p95 s | median step ms (python steps) |")
            print("| --- | --- | --- | --- | --- | --- |")
            for pipeline in asyncio.run(pipeline_names(docserve.triton_grpc)):
                for concurrency in (1, 8):
                    load, steps = asyncio.run(measure(docserve.triton_grpc, pipeline, pages, concurrency))
                    step_text = ", ".join(f"{step} {ms:.0f}" for step, ms in steps.items())
                    print(f"| {pipeline} | {concurrency} | {load.per_second:.2f} | {load.p50:.3f} | "
                          f"{load.p95:.3f} | {step_text} |", flush=True)
        finally:
            docserve.stop()


if __name__ == "__main__":
    main()
