"""Where an OCR page's time goes: per Triton model, per processing stage, side by side in one run.

    .venv/bin/python bench/ocr_steps.py [--pages 6] [--concurrency 1 --concurrency 4] [--quick]

On the scanned pages of bench/ocr.py (1000 x 1400 JPEG, 24 lines) and, with ``--real``, on
real forms and receipts from /work/shared/data/real_documents:
- Triton, per model, from the statistics extension (``get_inference_statistics``, the delta
  over the measured requests): executions, and per execution the time queued, gathering inputs
  (compute_input), running (compute_infer) and returning outputs (compute_output). For a python
  step compute_infer is its whole ``execute``; for ``ocr_lines`` it includes the wait for its BLS
  calls to ``text_recognition``. Pipelines: ``ocr`` (page bytes in) and ``page_ocr`` (the decoded
  grayscale page in, as document_full and form_intake hand it over).
- The steps' own ``elapsed_ms`` (page_result's timings_ms) for ``ocr``.
- In-process: the same processing functions and ONNX files, each stage timed on its own
  (decode + detector input, detector, DB post-processing + crops, recognizer input, recognizer,
  CTC decoding), with onnxruntime at 1 and at 2 threads.
Prints markdown tables (ms per page unless said otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tritonclient.grpc as grpcclient
from harness import embedded_triton, tree_cpu_seconds

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.contract.tensor_names import PAGE_INPUT, RESULT_OUTPUT
from docserve.export.ocr import DETECTION_INPUT
from docserve.export.synthetic_text_pages import render_text_page
from docserve.processing.ocr_pipeline import OcrSettings, prepare_page
from docserve.processing.page_image import decode_page_gray
from docserve.processing.text_detection import reading_order, text_line_boxes
from docserve.processing.text_recognition import (
    RECOGNITION_INPUT,
    crop_line,
    ctc_greedy_decode,
    load_characters,
    recognition_batches,
)

REPOSITORY = PROJECT_ROOT / "model_repository"
REAL_PAGES = Path("/work/shared/data/real_documents")
MODELS = ("text_detection_preprocess", "text_detection", "ocr_lines", "text_recognition", "page_result")
STAGES = ("decode + detector input", "detector", "DB post-processing + crops", "recognizer input",
          "recognizer", "CTC decoding")


def scanned_pages(count: int) -> list[bytes]:
    """bench/ocr.py's scanned pages (odd seeds)."""
    return [render_text_page(seed, scanned=True).image_bytes for seed in range(1, 2 * count, 2)]


def real_pages(count: int) -> list[bytes]:
    """The first ``count`` / 2 forms and receipts (sorted by name) of the real documents."""
    half = max(1, count // 2)
    paths = sorted((REAL_PAGES / "application_form").glob("*"))[:half]
    paths += sorted((REAL_PAGES / "receipt").glob("*"))[:half]
    return [path.read_bytes() for path in paths]


def model_statistics(client: grpcclient.InferenceServerClient) -> dict[str, dict[str, float]]:
    """Per model: executions and total ns of each phase (Triton's cumulative counters)."""
    found = {}
    for model in client.get_inference_statistics(as_json=True)["model_stats"]:
        stats = model.get("inference_stats", {})
        found[model["name"]] = {
            "executions": float(model.get("execution_count", 0)),
            "inferences": float(model.get("inference_count", 0)),
            **{phase: float(stats.get(phase, {}).get("ns", 0))
               for phase in ("queue", "compute_input", "compute_infer", "compute_output")},
        }
    return found


def statistics_delta(before: dict, after: dict) -> dict[str, dict[str, float]]:
    return {name: {key: after[name][key] - before.get(name, {}).get(key, 0.0) for key in after[name]}
            for name in after}


def ocr_request(page: bytes) -> tuple[list, list]:
    tensor = grpcclient.InferInput(PAGE_INPUT, [1], "BYTES")
    tensor.set_data_from_numpy(np.array([page], dtype=np.object_))
    return [tensor], [grpcclient.InferRequestedOutput(RESULT_OUTPUT)]


def page_ocr_request(page: bytes) -> tuple[list, list]:
    gray = decode_page_gray(page)
    tensor = grpcclient.InferInput("page", list(gray.shape), "UINT8")
    tensor.set_data_from_numpy(gray)
    return [tensor], [grpcclient.InferRequestedOutput("line_texts"),
                      grpcclient.InferRequestedOutput("text_lines_ms")]


def drive(url: str, pipeline: str, requests: list[tuple[list, list]], concurrency: int
          ) -> tuple[float, list[float], list[dict]]:
    """Send every request, ``concurrency`` in flight; (wall s, latencies s, step timings)."""
    clients = [grpcclient.InferenceServerClient(url) for _ in range(concurrency)]
    latencies, timings = [], []

    def one(index: int) -> None:
        started = time.perf_counter()
        result = clients[index % concurrency].infer(pipeline, requests[index][0], outputs=requests[index][1])
        latencies.append(time.perf_counter() - started)
        if pipeline == "ocr":
            timings.append(json.loads(result.as_numpy(RESULT_OUTPUT)[0])["timings_ms"])

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(len(requests))))
    return time.perf_counter() - started, latencies, timings


def triton_table(pipeline: str, concurrency: int, pages: int, wall: float, latencies: list[float],
                 cpu_seconds: float, delta: dict, timings: list[dict]) -> str:
    lines = [
        f"\n#### Triton `{pipeline}`, concurrency {concurrency}: {pages / wall:.2f} pages/s, "
        f"p50 {1000 * statistics.median(latencies):.0f} ms per page, "
        f"{1000 * cpu_seconds / pages:.0f} ms CPU per page (server + stubs) ({_load()})\n",
        "| model | requests / page | executions / page | queue ms | compute_input ms | compute_infer ms | "
        "compute_output ms | total ms / page |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in MODELS:
        stats = delta.get(name)
        if not stats or not stats["executions"]:
            continue
        # the phases are summed over requests (a batch of 2 counts twice): per page
        phases = [stats[phase] / 1e6 / pages for phase in
                  ("queue", "compute_input", "compute_infer", "compute_output")]
        lines.append(f"| {name} | {stats['inferences'] / pages:.1f} | {stats['executions'] / pages:.1f} | "
                     + " | ".join(f"{value:.0f}" for value in phases) + f" | {sum(phases):.0f} |")
    if timings:
        keys = sorted({key for timing in timings for key in timing})
        lines.append("\nsteps' own elapsed_ms (median): "
                     + ", ".join(f"{key} {statistics.median(t.get(key, 0) for t in timings):.0f}"
                                 for key in keys))
    return "\n".join(lines)


class StagedOcr:
    """The in-process reference's stages, each timed on its own."""

    def __init__(self, threads: int):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        self.detector = ort.InferenceSession(str(REPOSITORY / "text_detection/1/model.onnx"), options,
                                             providers=providers)
        self.recognizer = ort.InferenceSession(str(REPOSITORY / "text_recognition/1/model.onnx"),
                                               options, providers=providers)
        self.characters = load_characters(REPOSITORY / "ocr_lines/1/character_set.txt")
        self.settings = OcrSettings()

    def __call__(self, page_bytes: bytes) -> dict[str, float]:
        clock = _Clock()
        page = prepare_page(page_bytes, self.settings)
        clock.lap(STAGES[0])
        (probability_map,) = self.detector.run(None, {DETECTION_INPUT: page.detection_input})
        clock.lap(STAGES[1])
        height, width = page.page_bgr.shape[:2]
        boxes, _ = text_line_boxes(probability_map[0, 0], height, width, self.settings.detection)
        boxes = boxes[reading_order(boxes)]
        crops = [crop_line(page.page_bgr, box) for box in boxes]
        clock.lap(STAGES[2])
        batches = list(recognition_batches(crops, self.settings.recognition_batch_size))
        clock.lap(STAGES[3])
        answers = [self.recognizer.run(None, {RECOGNITION_INPUT: images}) for _, images in batches]
        clock.lap(STAGES[4])
        for ids, probabilities in answers:
            ctc_greedy_decode(ids, probabilities, self.characters)
        clock.lap(STAGES[5])
        return clock.laps


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = 1000 * (now - self._last)
        self._last = now


def in_process_table(pages: list[bytes]) -> str:
    staged = {threads: StagedOcr(threads) for threads in (1, 2)}
    laps: dict[int, defaultdict[str, list[float]]] = {threads: defaultdict(list) for threads in staged}
    cpu = dict.fromkeys(staged, 0.0)
    for ocr in staged.values():
        ocr(pages[0])  # warm-up
    for page in pages:  # interleaved: load from elsewhere hits both alike
        for threads, ocr in staged.items():
            started = time.process_time()
            for stage, ms in ocr(page).items():
                laps[threads][stage].append(ms)
            cpu[threads] += time.process_time() - started
    lines = [f"\n#### In-process stages, median ms per page ({_load()})\n",
             "| stage | 1 thread | 2 threads |", "| --- | ---: | ---: |"]
    for stage in (*STAGES, "total"):
        cells = []
        for threads in staged:
            values = (np.sum([laps[threads][s] for s in STAGES], axis=0) if stage == "total"
                      else laps[threads][stage])
            cells.append(f"{statistics.median(values):.0f}")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines.append("| CPU ms per page (mean) | " + " | ".join(
        f"{1000 * cpu[threads] / len(pages):.0f}" for threads in staged) + " |")
    return "\n".join(lines)


def _load() -> str:
    return "load " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6)
    parser.add_argument("--concurrency", type=int, action="append")
    parser.add_argument("--real", action="store_true", help="real forms and receipts, not rendered pages")
    parser.add_argument("--pipeline", action="append", choices=("ocr", "page_ocr"),
                        help="measure only these (repeat); default: both")
    parser.add_argument("--no-in-process", action="store_true", help="Triton only")
    parser.add_argument("--quick", action="store_true", help="3 pages, concurrency 1")
    args = parser.parse_args()
    count = 3 if args.quick else args.pages
    levels = args.concurrency or ([1] if args.quick else [1, 4])
    pages = real_pages(count) if args.real else scanned_pages(count)
    print(f"\n### OCR step breakdown: {len(pages)} {'real' if args.real else 'scanned'} pages")
    if not args.no_in_process:
        print(in_process_table(pages), flush=True)
    with embedded_triton() as server:
        client = grpcclient.InferenceServerClient(server.grpc_url)
        for pipeline, build in (("ocr", ocr_request), ("page_ocr", page_ocr_request)):
            if args.pipeline and pipeline not in args.pipeline:
                continue
            requests = [build(page) for page in pages]
            for concurrency in levels:
                client.infer(pipeline, requests[0][0], outputs=requests[0][1])  # warm-up, not counted
                before, cpu_before = model_statistics(client), tree_cpu_seconds(server.pid)
                wall, latencies, timings = drive(server.grpc_url, pipeline, requests, concurrency)
                cpu = tree_cpu_seconds(server.pid) - cpu_before
                delta = statistics_delta(before, model_statistics(client))
                print(triton_table(pipeline, concurrency, len(pages), wall, latencies, cpu, delta,
                                   timings), flush=True)


if __name__ == "__main__":
    main()
