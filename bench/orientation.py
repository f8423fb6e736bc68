"""Page orientation on real scans: accuracy and milliseconds per page of each new step.

    .venv/bin/python bench/orientation.py [--real ../shared/data/real_documents] [--per-class N]

Every page of the real-document folder (read here, never copied into the project) is decoded as
the document pipelines decode it, turned 0/90/180/270 deg counter-clockwise (PIL) and run through
the pipelines' orientation steps in-process: the same pre/post-processing and ONNX file as
Triton (tests check the two give equal results). Prints Markdown tables: accuracy per class and
per turn, the misses, and p50/p95 ms of each step.

Ground truth: a stored page counts as upright unless ``real_orientation_labels.csv`` (next to
this file) says otherwise. RVL-CDIP stores some pages sideways; every page on which the model
disagreed with "upright" was looked at by eye and listed there with its stored orientation, or
with none when the page holds nothing that shows which way is up (a blank folder tab, a lone
stamp): those are left out.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export.orientation import MODEL_INPUT
from docserve.processing.page_image import decode_page_gray
from docserve.processing.page_orientation import (
    ORIENTATIONS,
    orientation_input,
    read_orientation,
    turn_upright,
)

DEFAULT_REAL = PROJECT_ROOT.parent / "shared" / "data" / "real_documents"
LABELS = Path(__file__).with_name("real_orientation_labels.csv")


def stored_orientations() -> dict[str, int | None]:
    """Pages not stored upright: file -> counter-clockwise degrees, ``None`` = no telling."""
    with LABELS.open() as labels:
        return {row["file"]: int(row["stored_degrees"]) if row["stored_degrees"] else None
                for row in csv.DictReader(labels)}


def real_pages(folder: Path, per_class: int | None) -> list[tuple[str, str]]:
    """``(file, class)`` rows of the manifest, the first ``per_class`` of each class if given."""
    with (folder / "manifest.csv").open() as manifest:
        rows = [(row["file"], row["class"]) for row in csv.DictReader(manifest)]
    taken: dict[str, int] = defaultdict(int)
    chosen = []
    for file, label in rows:
        if per_class is None or taken[label] < per_class:
            taken[label] += 1
            chosen.append((file, label))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--per-class", type=int, default=None)
    args = parser.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # as served (intra_op_thread_count 1)
    session = ort.InferenceSession(str(PROJECT_ROOT / "model_repository" / "page_orientation" / "1"
                                       / "model.onnx"), options, providers=["CPUExecutionProvider"])
    timings: dict[str, list[float]] = defaultdict(list)
    right: dict[str, list[bool]] = defaultdict(list)
    misses = []
    stored = stored_orientations()
    for file, label in real_pages(args.real, args.per_class):
        if file in stored and stored[file] is None:
            continue
        page = decode_page_gray((args.real / file).read_bytes())
        for degrees in ORIENTATIONS:
            truth = (stored.get(file, 0) + degrees) % 360
            sent = np.asarray(Image.fromarray(page).rotate(degrees, expand=True))
            started = time.perf_counter()
            crop = orientation_input(sent)
            prepared = time.perf_counter()
            (probabilities,) = session.run(None, {MODEL_INPUT: crop})
            classified = time.perf_counter()
            found = read_orientation(probabilities)
            turn_upright(sent, found.degrees)
            turned = time.perf_counter()
            timings["page_orientation_preprocess"].append((prepared - started) * 1000)
            timings["page_orientation (onnx, 1 thread)"].append((classified - prepared) * 1000)
            timings["page_orientation_apply"].append((turned - classified) * 1000)
            right[label].append(found.degrees == truth)
            right[f"turned {degrees}"].append(found.degrees == truth)
            if found.degrees != truth:
                misses.append((file, degrees, truth, found.degrees, found.score))
    print_report(right, misses, timings)


def print_report(right: dict[str, list[bool]], misses: list, timings: dict[str, list[float]]) -> None:
    total = [hit for name, hits in right.items() if not name.startswith("turned") for hit in hits]
    print(f"\n**Orientation on real pages: {sum(total)} of {len(total)} right "
          f"({sum(total) / len(total):.4f})**\n")
    print("| group | n | right | accuracy |\n| --- | --- | --- | --- |")
    for name, hits in right.items():
        print(f"| {name} | {len(hits)} | {sum(hits)} | {sum(hits) / len(hits):.4f} |")
    print("\n| missed page | turned | truth | found | score |\n| --- | --- | --- | --- | --- |")
    for file, degrees, truth, found, score in misses:
        print(f"| {file} | {degrees} | {truth} | {found} | {score:.3f} |")
    print("\n| step | p50 ms | p95 ms |\n| --- | --- | --- |")
    for step, values in timings.items():
        p95 = statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)
        print(f"| {step} | {statistics.median(values):.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
