"""Page orientation on real scans: accuracy and milliseconds per page of each orientation step.

    .venv/bin/python bench/orientation.py [--real ../shared/data/real_documents] [--per-class N]
    .venv/bin/python bench/orientation.py --triton-per-class 3 [--pipeline ocr]

Every page of the real-document folder (read here, never copied into the project) is decoded as
the document pipelines decode it, turned 0/90/180/270 deg counter-clockwise (PIL) and run through
the pipelines' orientation steps in-process: the same pre/post-processing and ONNX file as
Triton (tests check the two give equal results). Prints Markdown tables: accuracy per class and
per turn, the misses, and p50/p95 ms of each step.

With ``--triton-per-class N`` the first N pages of each class, turned the same four ways, go
through a pipeline of a fresh embedded Triton instead (default ``ocr``, PNG bytes over gRPC):
the result's ``orientation`` against the truth, and the steps' milliseconds as served (the
python steps' ``timings_ms``, the model's compute time from Triton's statistics).

Ground truth (``docserve.export.vision.real_orientation``): a stored page counts as upright
unless ``export/data/real_orientation_labels.csv`` says otherwise. RVL-CDIP stores some pages
sideways; every page on which the model disagreed with "upright" was looked at by eye and listed
there with its stored orientation, or with none when the page holds nothing that shows which
way is up (a blank folder tab, a lone stamp): those are left out.
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient
from PIL import Image

from docserve.api.embedded_triton import EmbeddedTriton, TritonOptions, TritonPorts, free_port
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.contract.page_result import PageResult
from docserve.contract.tensor_names import PAGE_INPUT, RESULT_OUTPUT
from docserve.export.orientation import MODEL
from docserve.export.vision.real_orientation import (
    OrientationMetrics,
    orientation_metrics,
    stored_orientations,
    turned_pages,
)
from docserve.processing.page_image import decode_page_gray

DEFAULT_REAL = PROJECT_ROOT.parent / "shared" / "data" / "real_documents"


def real_pages(folder: Path, per_class: int | None) -> Iterator[tuple[str, str, np.ndarray]]:
    """``(file, class, grayscale page)`` of the manifest's rows, the first ``per_class`` of each
    class if given."""
    with (folder / "manifest.csv").open() as manifest:
        rows = [(row["file"], row["class"]) for row in csv.DictReader(manifest)]
    taken: dict[str, int] = defaultdict(int)
    for file, label in rows:
        if per_class is None or taken[label] < per_class:
            taken[label] += 1
            yield file, label, decode_page_gray((folder / file).read_bytes())


def through_triton(pipeline: str, pages: Iterator[tuple[str, str, np.ndarray]]) -> OrientationMetrics:
    """The pages turned four ways through ``pipeline`` of a fresh embedded Triton."""
    stored, metrics = stored_orientations(), OrientationMetrics()
    ports = TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port())
    with tempfile.TemporaryDirectory(prefix="bench-orientation-") as work_dir, EmbeddedTriton(
            TritonOptions(model_repositories=[PROJECT_ROOT / "model_repository", PROJECT_ROOT / "ensembles"],
                          work_dir=Path(work_dir), ports=ports), log_sink=lambda line: None) as server:
        client = grpcclient.InferenceServerClient(server.grpc_url)
        before = _compute_ns(client)
        for test in turned_pages(pages, stored, metrics):
            buffer = io.BytesIO()
            Image.fromarray(test.page).save(buffer, format="PNG")
            tensor = grpcclient.InferInput(PAGE_INPUT, [1], "BYTES")
            tensor.set_data_from_numpy(np.array([buffer.getvalue()], dtype=np.object_))
            answer = client.infer(pipeline, [tensor],
                                  outputs=[grpcclient.InferRequestedOutput(RESULT_OUTPUT)])
            result = PageResult.model_validate_json(answer.as_numpy(RESULT_OUTPUT)[0])
            for step in ("decode", "orientation_preprocess", "orientation_apply"):
                metrics.timings_ms[step].append(result.timings_ms[step])
            metrics.record(test, result.orientation.degrees, result.orientation.score)
        (compute_ns, count), (start_ns, start_count) = _compute_ns(client), before
        metrics.timings_ms[f"{MODEL} (Triton compute, mean)"] = [(compute_ns - start_ns) / 1e6
                                                                / max(1, count - start_count)]
        client.close()
    return metrics


def _compute_ns(client: grpcclient.InferenceServerClient) -> tuple[int, int]:
    """Total compute nanoseconds and requests of the orientation model so far (one page each)."""
    (stats,) = client.get_inference_statistics(MODEL, as_json=True)["model_stats"]
    compute = stats["inference_stats"]["compute_infer"]
    return int(compute.get("ns", 0)), int(compute.get("count", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--per-class", type=int, default=None)
    parser.add_argument("--triton-per-class", type=int, default=None)
    parser.add_argument("--pipeline", default="ocr")
    args = parser.parse_args()
    if args.triton_per_class is not None:
        metrics = through_triton(args.pipeline, real_pages(args.real, args.triton_per_class))
        print(f"\n**Orientation through Triton's {args.pipeline}: {metrics.right} of {metrics.tests} "
              f"right ({metrics.accuracy:.4f})**\n")
        print(metrics.table())
        return
    metrics = orientation_metrics(PROJECT_ROOT / "model_repository" / MODEL / "1" / "model.onnx",
                                  real_pages(args.real, args.per_class))
    print(f"\n**Orientation on real pages: {metrics.right} of {metrics.tests} right "
          f"({metrics.accuracy:.4f}); {metrics.untold} pages left out (no telling)**\n")
    print(metrics.table())


if __name__ == "__main__":
    main()
