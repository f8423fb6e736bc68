"""Page orientation on real scans: accuracy and milliseconds per page of each orientation step.

    .venv/bin/python bench/orientation.py [--real ../shared/data/real_documents] [--per-class N]

Every page of the real-document folder (read here, never copied into the project) is decoded as
the document pipelines decode it, turned 0/90/180/270 deg counter-clockwise (PIL) and run through
the pipelines' orientation steps in-process: the same pre/post-processing and ONNX file as
Triton (tests check the two give equal results). Prints Markdown tables: accuracy per class and
per turn, the misses, and p50/p95 ms of each step.

Ground truth (``docserve.export.vision.real_orientation``): a stored page counts as upright
unless ``export/data/real_orientation_labels.csv`` says otherwise. RVL-CDIP stores some pages
sideways; every page on which the model disagreed with "upright" was looked at by eye and listed
there with its stored orientation, or with none when the page holds nothing that shows which
way is up (a blank folder tab, a lone stamp): those are left out.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export.orientation import MODEL
from docserve.export.vision.real_orientation import orientation_metrics
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--per-class", type=int, default=None)
    args = parser.parse_args()
    metrics = orientation_metrics(PROJECT_ROOT / "model_repository" / MODEL / "1" / "model.onnx",
                                  real_pages(args.real, args.per_class))
    print(f"\n**Orientation on real pages: {metrics.right} of {metrics.tests} right "
          f"({metrics.accuracy:.4f}); {metrics.untold} pages left out (no telling)**\n")
    print(metrics.table())


if __name__ == "__main__":
    main()
