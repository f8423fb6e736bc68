"""Metrics on real pages: document types (per type + confusion) and skew of rotated scans.

Everything runs through the serving path's own code (grayscale decode, thumbnail,
onnxruntime on the committed ``model.onnx``), so the figures are those of the served models.
Real scans carry no skew label; each page is turned by known angles and the estimate of the
turned page is compared with the estimate of the page as scanned plus the turn, which takes
out the page's own (unknown, small) skew. The ``deskew`` package (bench extra) is measured on
the same pages the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from docserve.contract.document_types import DOCUMENT_TYPES
from docserve.export.documents.dataset import HELD_OUT_FIRST_SEED, generate_pages, seeds
from docserve.export.vision.labelled_pages import LabelledThumbnails
from docserve.export.vision.reference import DESKEW, DOC_CLASSIFIER
from docserve.processing.page_rotation import MAX_SKEW_DEGREES, deskew_page
from docserve.processing.page_thumbnail import page_thumbnail

BATCH = 16


@dataclass(frozen=True)
class TypeMetrics:
    labels: tuple[str, ...]
    confusion: np.ndarray  # int [true type, predicted type]

    @property
    def pages(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(1, self.pages))

    @property
    def per_type(self) -> dict[str, float]:
        """Recall of each type: the share of its pages given that type."""
        totals = self.confusion.sum(axis=1)
        return {label: float(self.confusion[i, i] / totals[i]) if totals[i] else float("nan")
                for i, label in enumerate(self.labels)}

    def table(self) -> str:
        """Per-type accuracy and the confusion matrix (rows: true type), as Markdown."""
        header = "| true \\ predicted | " + " | ".join(self.labels) + " | pages | accuracy |"
        lines = [header, "|" + " --- |" * (len(self.labels) + 3)]
        for i, label in enumerate(self.labels):
            row = " | ".join(str(count) for count in self.confusion[i])
            lines.append(f"| {label} | {row} | {self.confusion[i].sum()} | "
                         f"{self.per_type[label]:.3f} |")
        lines.append(f"| **all** | {' | '.join(['']*len(self.labels))} | {self.pages} | "
                     f"**{self.accuracy:.3f}** |")
        return "\n".join(lines)


def classifier_session(model: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def predicted_types(model: Path, thumbnails: np.ndarray) -> np.ndarray:
    """uint8 ``[N, S, S]`` thumbnails -> the index of each page's most probable type."""
    session = classifier_session(model)
    batches = [thumbnails[i: i + BATCH, None].astype(np.float32) / 255
               for i in range(0, len(thumbnails), BATCH)]
    return np.concatenate([session.run([DOC_CLASSIFIER.output], {DOC_CLASSIFIER.input: batch})[0]
                           for batch in batches]).argmax(axis=1)


def confusion(truth: Sequence[int], predicted: Sequence[int], types: int) -> np.ndarray:
    matrix = np.zeros((types, types), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth), np.asarray(predicted)), 1)
    return matrix


def type_metrics(model: Path, pages: LabelledThumbnails, labels: Sequence[str]) -> TypeMetrics:
    predicted = predicted_types(model, pages.thumbnails)
    return TypeMetrics(tuple(labels), confusion(pages.labels, predicted, len(labels)))


def synthetic_type_metrics(model: Path, count: int, workers: int = 2) -> TypeMetrics:
    """The same metrics on held-out synthetic pages (the factory's five types)."""
    rendered = generate_pages(seeds(count, HELD_OUT_FIRST_SEED), workers)
    thumbnails = np.stack([np.round(page_thumbnail(page.image)[0] * 255).astype(np.uint8)
                           for page in rendered])
    truth = [DOCUMENT_TYPES.index(page.truth.document_type) for page in rendered]
    predicted = predicted_types(model, thumbnails)
    return TypeMetrics(DOCUMENT_TYPES, confusion(truth, predicted, len(DOCUMENT_TYPES)))


@dataclass(frozen=True)
class SkewMetrics:
    name: str
    errors: np.ndarray  # degrees, one per turned page
    seconds: np.ndarray  # per estimate

    def row(self) -> str:
        return (f"| {self.name} | {len(self.errors)} | {self.errors.mean():.3f} | "
                f"{np.percentile(self.errors, 95):.3f} | {self.errors.max():.2f} | "
                f"{1000 * self.seconds.mean():.1f} |")


SKEW_HEADER = ("| estimator | turned pages | MAE (deg) | p95 (deg) | max (deg) | ms per page |\n"
               "| --- | --- | --- | --- | --- | --- |")

SkewEstimate = Callable[[np.ndarray], float]


def model_skew(model: Path) -> SkewEstimate:
    """The deskew model as served: thumbnail + ``model.onnx`` on one thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    def estimate(page: np.ndarray) -> float:
        thumbnail = page_thumbnail(page)[None]
        return float(session.run([DESKEW.output], {DESKEW.input: thumbnail})[0][0, 0])

    return estimate


def deskew_package_skew(page: np.ndarray) -> float:
    """The ``deskew`` package (Hough on edges), as the issue measured it; our sign convention."""
    from deskew import determine_skew  # the `bench` extra: a comparison, not a dependency

    angle = determine_skew(page, min_deviation=0.25, min_angle=-16, max_angle=16)
    return -float(angle) if angle is not None else 0.0


def skew_metrics(name: str, estimate: SkewEstimate, pages: Sequence[np.ndarray],
                 angles: np.ndarray) -> SkewMetrics:
    """Error of ``estimate`` on each page turned by each of its angles (``[pages, turns]``)."""
    errors, seconds = [], []
    for page, turns in zip(pages, angles, strict=True):
        native = estimate(page)
        for angle in turns:
            turned = deskew_page(page, -float(angle))  # content turned by +angle
            started = time.perf_counter()
            found = estimate(turned)
            seconds.append(time.perf_counter() - started)
            errors.append(abs(found - native - float(angle)))
    return SkewMetrics(name, np.array(errors), np.array(seconds))


def turn_angles(pages: int, turns: int, seed: int) -> np.ndarray:
    """Known angles in [-15, 15] degrees, ``[pages, turns]``, seeded."""
    return np.random.default_rng(seed).uniform(-MAX_SKEW_DEGREES, MAX_SKEW_DEGREES, (pages, turns))
