"""Latency of one car evaluation, side by side in one run: in-process vs Triton gRPC vs REST.

    .venv/bin/python bench/car_evaluation.py [--requests 300] [--rows 1]

Starts its own embedded Triton and gateway on free loopback ports, warms each path up, then
interleaves the three paths request by request (so load from anything else on the machine hits
them alike) and prints a markdown table with p50/p95 and the ratio to the in-process reference.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import tritonclient.grpc as grpcclient
import uvicorn

from docserve.api.app import create_app
from docserve.api.embedded_triton import EmbeddedTriton, TritonOptions, TritonPorts, free_port
from docserve.api.settings import Settings
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.processing.car_features import ATTRIBUTES, encode_records, labels_for

CAR = {"buying": "low", "maint": "low", "doors": "4", "persons": "more", "lug_boot": "big", "safety": "high"}


def in_process(rows: list[dict[str, str]]) -> Callable[[], object]:
    """The no-serving reference: the same shared encoding and ONNX model, called directly."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        str(PROJECT_ROOT / "model_repository/car_evaluation_model/1/model.onnx"), options,
        providers=["CPUExecutionProvider"],
    )

    def call() -> object:
        probabilities = session.run(None, {"car_features": encode_records(rows)})[0]
        return labels_for(probabilities)

    return call


def triton_grpc(url: str, rows: list[dict[str, str]]) -> Callable[[], object]:
    client = grpcclient.InferenceServerClient(url)

    def call() -> object:
        inputs = []
        for name in ATTRIBUTES:
            tensor = grpcclient.InferInput(name, [len(rows), 1], "BYTES")
            tensor.set_data_from_numpy(np.array([[row[name].encode()] for row in rows], dtype=np.object_))
            inputs.append(tensor)
        return client.infer("car_evaluation", inputs).as_numpy("predicted_label")

    return call


def rest(base_url: str, rows: list[dict[str, str]]) -> Callable[[], object]:
    client = httpx.Client(base_url=base_url, timeout=30)

    def call() -> object:
        response = client.post("/api/v1/predict", json={"inputs": rows})
        response.raise_for_status()
        return response.json()

    return call


def start_gateway(settings: Settings) -> uvicorn.Server:
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def measure(paths: dict[str, Callable[[], object]], requests: int) -> dict[str, list[float]]:
    for call in paths.values():  # warm-up: connections, onnxruntime arenas, Triton's batcher
        for _ in range(20):
            call()
    timings: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(requests):
        for name, call in paths.items():
            started = time.perf_counter()
            call()
            timings[name].append((time.perf_counter() - started) * 1000)
    return timings


def report(timings: dict[str, list[float]], rows: int) -> str:
    reference = statistics.median(next(iter(timings.values())))
    lines = [
        f"car evaluation, {rows} record(s) per call, {len(next(iter(timings.values())))} calls per path",
        "",
        "| path | p50 ms | p95 ms | p50 / in-process |",
        "| --- | --- | --- | --- |",
    ]
    for name, values in timings.items():
        p50 = statistics.median(values)
        p95 = float(np.percentile(values, 95))
        lines.append(f"| {name} | {p50:.2f} | {p95:.2f} | {p50 / reference:.1f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rows", type=int, default=1, help="records per call")
    args = parser.parse_args()
    rows = [CAR] * args.rows
    ports = TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port())
    with tempfile.TemporaryDirectory() as work_dir, EmbeddedTriton(
        TritonOptions(
            model_repositories=[PROJECT_ROOT / "model_repository", PROJECT_ROOT / "ensembles"],
            work_dir=Path(work_dir), ports=ports,
        ),
        log_sink=lambda line: None,
    ) as triton:
        settings = Settings(
            port=free_port(), triton_grpc_port=ports.grpc, triton_http_port=ports.http,
            log_json=False, log_level="WARNING",
        )
        gateway = start_gateway(settings)
        paths = {
            "in-process (shared encoding + onnxruntime)": in_process(rows),
            "Triton gRPC, car_evaluation ensemble": triton_grpc(triton.grpc_url, rows),
            "REST /api/v1/predict (gateway -> Triton gRPC)": rest(f"http://127.0.0.1:{settings.port}", rows),
        }
        print(report(measure(paths, args.requests), args.rows))
        gateway.should_exit = True


if __name__ == "__main__":
    main()
