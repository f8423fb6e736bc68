"""docserve against the obvious alternative, driven by the same load generator in one run.

    .venv/bin/python bench/monolith.py [--quick]

- monolith: bench/monolith_app.py, a plain FastAPI app running a pipeline's models in the
  request handler (uvicorn, one process);
- docserve: the gateway's synchronous `POST /api/v1/pipelines/{pipeline}/predict` (upload),
  which calls the Triton ensemble over gRPC.
Both get the same generated documents as multipart uploads at concurrency 1, 4, 16 and 32, a
bounded number of requests per level (default pipeline: checkbox_form; --pipeline P for others). Prints
throughput, p50/p95 latency and memory (the monolith's process; docserve's gateway + Triton +
python stubs together).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from harness import BIN, Load, document_pages, start_docserve, tree_rss_mb

from docserve.api.embedded_triton import free_port


def start_monolith() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "uvicorn"), "monolith_app:app", "--app-dir", str(Path(__file__).parent),
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/docs", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the monolith did not start")


async def drive(url: str, pages: list[bytes], concurrency: int, requests: int) -> Load:
    latencies: list[float] = []
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=600) as client:

        async def one(index: int) -> None:
            async with limit:
                started = time.perf_counter()
                response = await client.post(url, files={"document": ("page.png", pages[index % len(pages)])})
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)

        await one(0)  # warm-up
        latencies.clear()
        started = time.perf_counter()
        await asyncio.gather(*(one(index) for index in range(requests)))
        return Load(requests, time.perf_counter() - started, latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="concurrency 1 and 4, 6 requests each")
    parser.add_argument("--pipeline", default="checkbox_form")
    args = parser.parse_args()
    levels = (1, 4) if args.quick else (1, 4, 16, 32)
    with tempfile.TemporaryDirectory() as scratch:
        inbox = Path(scratch) / "inbox"
        pages = [path.read_bytes() for path in document_pages(8, inbox)]
        results: dict[str, dict[int, Load]] = {"monolith": {}, "docserve": {}}
        memory: dict[str, float] = {}

        monolith, monolith_url = start_monolith()
        docserve = start_docserve(Path(scratch) / "data", inbox)
        targets = {
            "monolith": (f"{monolith_url}/pipelines/{args.pipeline}", monolith.pid),
            "docserve": (f"{docserve.url}/api/v1/pipelines/{args.pipeline}/predict", docserve.process.pid),
        }
        try:
            for concurrency in levels:
                requests = 6 if args.quick else max(8, concurrency)
                for name, (url, _) in targets.items():  # the two systems alternate level by level
                    results[name][concurrency] = asyncio.run(drive(url, pages, concurrency, requests))
                for name, (_, pid) in targets.items():
                    memory[name] = max(memory.get(name, 0.0), tree_rss_mb(pid))
        finally:
            monolith.terminate()
            monolith.wait(timeout=30)
            docserve.stop()

    print(f"\n### `{args.pipeline}`: docserve (gateway -> Triton) vs the monolith (models in the web app)\n")
    print("| concurrency | monolith pages/s | docserve pages/s | monolith p50 / p95 s "
          "| docserve p50 / p95 s |")
    print("| --- | --- | --- | --- | --- |")
    for concurrency in levels:
        mono, serve = results["monolith"][concurrency], results["docserve"][concurrency]
        print(f"| {concurrency} | {mono.per_second:.2f} | {serve.per_second:.2f} | "
              f"{mono.p50:.2f} / {mono.p95:.2f} | {serve.p50:.2f} / {serve.p95:.2f} |")
    print(f"\nMemory after load: monolith {memory['monolith']:.0f} MB (one process); docserve "
          f"{memory['docserve']:.0f} MB (gateway + Triton + python stubs)")


if __name__ == "__main__":
    main()
