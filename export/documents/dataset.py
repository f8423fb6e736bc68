"""Page sets on disk (``<seed>.png`` + ``<seed>.json``) and in memory, generated in parallel.

Training, validation (choosing post-processing parameters) and held-out evaluation draw from
disjoint seed ranges, so a held-out page is never a training page nor one that tuned a parameter.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2

from docserve.export.documents.generator import GeneratedPage, generate_page
from docserve.export.documents.ground_truth import PageTruth

TRAINING_FIRST_SEED = 0
VALIDATION_FIRST_SEED = 5_000_000
HELD_OUT_FIRST_SEED = 10_000_000


def seeds(count: int, first_seed: int) -> range:
    return range(first_seed, first_seed + count)


def generate_pages(page_seeds: Sequence[int], workers: int = 2) -> list[GeneratedPage]:
    """Pages for ``page_seeds`` in order, rendered by ``workers`` processes."""
    if workers <= 1:
        return [generate_page(seed) for seed in page_seeds]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(generate_page, page_seeds, chunksize=16))


def write_page(page: GeneratedPage, out: Path) -> Path:
    stem = out / f"{page.truth.seed:08d}"
    cv2.imwrite(str(stem.with_suffix(".png")), page.image)
    stem.with_suffix(".json").write_text(page.truth.to_json(), encoding="utf-8")
    return stem.with_suffix(".png")


def write_dataset(out: Path, count: int, first_seed: int, workers: int = 2) -> list[Path]:
    """Render ``count`` pages from ``first_seed`` into ``out``; returns the PNG paths."""
    out.mkdir(parents=True, exist_ok=True)
    page_seeds = seeds(count, first_seed)
    if workers <= 1:
        return [write_page(generate_page(seed), out) for seed in page_seeds]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_write_seed, page_seeds, [out] * count, chunksize=16))


def _write_seed(seed: int, out: Path) -> Path:
    return write_page(generate_page(seed), out)


def read_dataset(folder: Path) -> Iterator[GeneratedPage]:
    """The pages of a folder written by :func:`write_dataset`, in seed order."""
    for truth_file in sorted(folder.glob("*.json")):
        image = cv2.imread(str(truth_file.with_suffix(".png")), cv2.IMREAD_GRAYSCALE)
        yield GeneratedPage(image, PageTruth.from_json(truth_file.read_text(encoding="utf-8")))
