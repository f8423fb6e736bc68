"""Page orientation on real scans: each page turned 0/90/180/270 deg through the served steps' code.

Every page is decoded as the pipelines decode it, turned counter-clockwise (PIL) and read by
``docserve.processing.page_orientation`` around the committed ``model.onnx`` on one
onnxruntime thread, as served (Triton runs the same code: tests compare the two). The truth of
a turned page is the turn plus the page's stored orientation: a stored page counts as upright
unless ``export/data/real_orientation_labels.csv`` says otherwise (RVL-CDIP stores some pages
sideways); pages whose orientation cannot be told are left out.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from docserve.export.orientation import MODEL_INPUT
from docserve.processing.page_orientation import (
    FIRST_READING,
    ORIENTATIONS,
    orient,
    orientation_input,
    turn_upright,
)

STORED_ORIENTATIONS = Path(__file__).resolve().parents[1] / "data" / "real_orientation_labels.csv"
STEPS = ("page_orientation_preprocess", "page_orientation (onnx, 1 thread)", "page_orientation_apply")


def stored_orientations(path: Path = STORED_ORIENTATIONS) -> dict[str, int | None]:
    """Pages not stored upright: file -> counter-clockwise degrees, ``None`` = no telling."""
    with path.open(encoding="utf-8", newline="") as labels:
        return {row["file"]: int(row["stored_degrees"]) if row["stored_degrees"] else None
                for row in csv.DictReader(labels)}


@dataclass(frozen=True)
class OrientationMiss:
    file: str
    turned: int  # degrees the stored page was turned for the test
    truth: int
    found: int
    score: float


@dataclass
class OrientationMetrics:
    """Hits per document type and per turn, the misses, and each step's milliseconds."""

    by_type: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    by_turn: dict[int, list[bool]] = field(default_factory=lambda: defaultdict(list))
    misses: list[OrientationMiss] = field(default_factory=list)
    timings_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    untold: int = 0  # pages left out: their orientation cannot be told

    def record(self, test: TurnedPage, found: int, score: float) -> None:
        hit = found == test.truth
        self.by_type[test.label].append(hit)
        self.by_turn[test.degrees].append(hit)
        if not hit:
            self.misses.append(OrientationMiss(test.file, test.degrees, test.truth, found, score))

    @property
    def tests(self) -> int:
        return sum(len(hits) for hits in self.by_type.values())

    @property
    def right(self) -> int:
        return sum(sum(hits) for hits in self.by_type.values())

    @property
    def accuracy(self) -> float:
        return self.right / max(1, self.tests)

    def table(self) -> str:
        """Accuracy per type and per turn, the misses, p50/p95 ms of each step (Markdown)."""
        lines = ["| group | tests | right | accuracy |", "| --- | --- | --- | --- |"]
        groups = [*self.by_type.items(), *((f"turned {turn}", hits) for turn, hits in self.by_turn.items())]
        lines += [f"| {name} | {len(hits)} | {sum(hits)} | {sum(hits) / len(hits):.4f} |"
                  for name, hits in groups]
        lines.append(f"| **all** | {self.tests} | {self.right} | **{self.accuracy:.4f}** |")
        if self.misses:
            lines += ["", "| missed page | turned | truth | found | score |",
                      "| --- | --- | --- | --- | --- |"]
            lines += [f"| `{miss.file}` | {miss.turned} | {miss.truth} | {miss.found} | {miss.score:.3f} |"
                      for miss in self.misses]
        lines += ["", "| step | p50 ms | p95 ms |", "| --- | --- | --- |"]
        for step, values in self.timings_ms.items():
            p95 = statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)
            lines.append(f"| {step} | {statistics.median(values):.1f} | {p95:.1f} |")
        return "\n".join(lines)


def orientation_session(model: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # as served (intra_op_thread_count 1)
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class TurnedPage:
    """One test: a real page turned ``degrees`` counter-clockwise, whose content is then at ``truth``."""

    file: str
    label: str
    degrees: int
    truth: int
    page: np.ndarray


def turned_pages(pages: Iterable[tuple[str, str, np.ndarray]], stored: dict[str, int | None],
                 metrics: OrientationMetrics) -> Iterator[TurnedPage]:
    """Each page turned 0/90/180/270 deg with its truth; pages that cannot be told are counted
    in ``metrics.untold`` and left out."""
    for file, label, page in pages:
        if file in stored and stored[file] is None:
            metrics.untold += 1
            continue
        for degrees in ORIENTATIONS:
            yield TurnedPage(file, label, degrees, (stored.get(file, 0) + degrees) % 360,
                             np.asarray(Image.fromarray(page).rotate(degrees, expand=True)))


def orientation_metrics(model: Path, pages: Iterable[tuple[str, str, np.ndarray]],
                        stored: dict[str, int | None] | None = None) -> OrientationMetrics:
    """``(file, type, grayscale page)`` of real pages -> the metrics of the four turns of each.

    ``file`` is the page's path in its folder, the key of ``stored`` (default: the labels in
    ``export/data``); the pages are read lazily, one at a time.
    """
    session = orientation_session(model)
    metrics = OrientationMetrics()
    for test in turned_pages(pages, stored_orientations() if stored is None else stored, metrics):
        started = time.perf_counter()
        crops = orientation_input(test.page, FIRST_READING)
        prepared = time.perf_counter()
        (probabilities,) = session.run(None, {MODEL_INPUT: crops})
        found = orient(test.page, probabilities,
                       lambda turned: session.run(None, {MODEL_INPUT: turned})[0])
        classified = time.perf_counter()
        turn_upright(test.page, found.degrees)
        turned = time.perf_counter()
        for step, seconds in zip(STEPS, (prepared - started, classified - prepared, turned - classified),
                                 strict=True):
            metrics.timings_ms[step].append(seconds * 1000)
        metrics.record(test, found.degrees, found.score)
    return metrics
