"""Per-page latency of each vision model: in-process (shared processing + onnxruntime, 1 thread)
vs the same model called alone through Triton gRPC.

    .venv/bin/python bench/vision_models.py [--pages 20]

Starts its own embedded Triton on free loopback ports, warms each call up, then interleaves the
two paths page by page (so load from anything else on the machine hits both alike) and prints a
Markdown table of p50/p95 milliseconds per page.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import np_to_triton_dtype

from docserve.api.embedded_triton import EmbeddedTriton, TritonOptions, TritonPorts, free_port
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export.documents.dataset import HELD_OUT_FIRST_SEED
from docserve.export.documents.generator import generate_page
from docserve.export.vision.reference import (
    CHECKBOX,
    DESKEW,
    DOC_CLASSIFIER,
    SIGNATURE,
    VisionModels,
)
from docserve.processing.checkboxes import crop_candidates, find_candidates
from docserve.processing.page_image import decode_page_gray
from docserve.processing.page_thumbnail import page_thumbnail

Call = Callable[[np.ndarray, bytes], object]


def triton_call(client: grpcclient.InferenceServerClient, model: str,
                inputs: Callable[[np.ndarray, bytes], dict[str, np.ndarray]]) -> Call:
    def call(page: np.ndarray, encoded: bytes) -> object:
        tensors = []
        for name, value in inputs(page, encoded).items():
            tensor = grpcclient.InferInput(name, list(value.shape), np_to_triton_dtype(value.dtype))
            tensor.set_data_from_numpy(value)
            tensors.append(tensor)
        return client.infer(model, tensors)

    return call


def paths(client: grpcclient.InferenceServerClient,
          models: VisionModels) -> dict[str, tuple[Call, Call]]:
    """model -> (in-process call, Triton call). For the ONNX models both paths include making
    their input (thumbnail or candidate crops) from the page, so they time the same work."""
    thumbnail = lambda page, _: {"page_thumbnail": page_thumbnail(page)[None]}  # noqa: E731
    crops = lambda page, _: {"checkbox_crops": crop_candidates(page, find_candidates(page))}  # noqa: E731
    return {
        "page_decode": (lambda _, data: decode_page_gray(data), triton_call(
            client, "page_decode", lambda _, data: {"page_bytes": np.array([data], np.object_)})),
        "page_thumbnail": (lambda page, _: page_thumbnail(page),
                           triton_call(client, "page_thumbnail", lambda page, _: {"page": page})),
        "deskew": (lambda page, _: models.run(DESKEW, thumbnail(page, _)["page_thumbnail"]),
                   triton_call(client, "deskew", thumbnail)),
        "doc_classifier": (
            lambda page, _: models.run(DOC_CLASSIFIER, thumbnail(page, _)["page_thumbnail"]),
            triton_call(client, "doc_classifier", thumbnail)),
        "checkbox_candidates": (
            lambda page, _: crop_candidates(page, find_candidates(page)),
            triton_call(client, "checkbox_candidates", lambda page, _: {"page": page})),
        "checkbox": (lambda page, _: models.run(CHECKBOX, crops(page, _)["checkbox_crops"]),
                     triton_call(client, "checkbox", crops)),
        "signature": (lambda page, _: models.run(SIGNATURE, thumbnail(page, _)["page_thumbnail"]),
                      triton_call(client, "signature", thumbnail)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()
    pages = [generate_page(HELD_OUT_FIRST_SEED + 2000 + i) for i in range(args.pages)]
    forms = [generate_page(seed) for seed in range(HELD_OUT_FIRST_SEED + 3000,
                                                    HELD_OUT_FIRST_SEED + 3100)]
    forms = [page for page in forms if page.truth.document_type == "application_form"]
    with tempfile.TemporaryDirectory() as work_dir:
        options = TritonOptions(
            model_repositories=[PROJECT_ROOT / "model_repository"], work_dir=Path(work_dir),
            ports=TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port()),
        )
        with EmbeddedTriton(options, log_sink=lambda _: None) as triton:
            client = grpcclient.InferenceServerClient(triton.grpc_url)
            table = measure(paths(client, VisionModels(PROJECT_ROOT / "model_repository")),
                            pages, forms[: args.pages])
    print("| model | in-process p50 ms | Triton gRPC p50 ms | Triton gRPC p95 ms |")
    print("| --- | --- | --- | --- |")
    for model, (local, served) in table.items():
        print(f"| {model} | {statistics.median(local):.1f} | {statistics.median(served):.1f} | "
              f"{np.percentile(served, 95):.1f} |")


def measure(calls: dict[str, tuple[Call, Call]], pages, forms) -> dict[str, tuple[list, list]]:
    table = {}
    for model, (local, served) in calls.items():
        sample = forms if model.startswith("checkbox") else pages
        encoded = [cv2.imencode(".png", page.image)[1].tobytes() for page in sample]
        local(sample[0].image, encoded[0]), served(sample[0].image, encoded[0])  # warm-up
        local_ms, served_ms = [], []
        for page, data in zip(sample, encoded, strict=True):
            for call, times in ((local, local_ms), (served, served_ms)):
                started = time.perf_counter()
                call(page.image, data)
                times.append(1000 * (time.perf_counter() - started))
        table[model] = (local_ms, served_ms)
    return table


if __name__ == "__main__":
    main()
