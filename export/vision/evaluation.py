"""Held-out metrics of the four models, measured through the serving path (:mod:`.reference`).

Pages come from the factory's held-out seed range (never trained on). The deskew model is
compared, on the same pages and in the same run, with the classical ``deskew`` package
(Hough transform on edges), tuned to 0.1 degree resolution and the same +-16 degree range.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from docserve.contract.document_types import DOCUMENT_TYPES
from docserve.export.documents.dataset import HELD_OUT_FIRST_SEED, generate_pages, seeds
from docserve.export.documents.generator import GeneratedPage
from docserve.export.documents.ground_truth import PageTruth
from docserve.export.vision.reference import VisionModels
from docserve.processing.checkboxes import CheckboxDecision, box_iou
from docserve.processing.page_thumbnail import page_thumbnail
from docserve.processing.signature_heatmap import SignatureFinding

MATCH_IOU = 0.5
CHUNK = 50


@dataclass
class Tally:
    """Per-page outcomes, accumulated while the held-out pages stream by."""

    skew_errors: list[float] = field(default_factory=list)
    skew_seconds: list[float] = field(default_factory=list)
    baseline_errors: list[float] = field(default_factory=list)
    baseline_seconds: list[float] = field(default_factory=list)
    type_hits: dict[str, list[bool]] = field(
        default_factory=lambda: {name: [] for name in DOCUMENT_TYPES}
    )
    checkboxes_true: int = 0
    checkboxes_found: int = 0
    checkboxes_predicted: int = 0
    checkbox_states_right: int = 0
    signature_presence_right: list[bool] = field(default_factory=list)
    signature_ious: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class HeldOutMetrics:
    pages: int
    skew_mae: float
    skew_p95: float
    skew_ms_per_page: float
    baseline_skew_mae: float | None
    baseline_skew_p95: float | None
    baseline_ms_per_page: float | None
    document_type_accuracy: float
    document_type_accuracy_by_type: dict[str, float]
    checkbox_pages: int
    checkbox_recall: float
    checkbox_precision: float
    checkbox_state_accuracy: float
    signature_presence_accuracy: float
    signed_pages: int
    signature_iou50_rate: float
    signature_mean_iou: float

    def table(self) -> str:
        """The Markdown metrics table of the model cards and the issue's closing note."""
        rows = [
            ("deskew", "mean abs error (deg)", f"{self.skew_mae:.3f}", "<= 0.3"),
            ("deskew", "p95 abs error (deg)", f"{self.skew_p95:.3f}", "<= 0.8"),
            ("deskew", "ms per page (thumbnail + model, 1 thread)",
             f"{self.skew_ms_per_page:.1f}", "faster than `deskew`"),
            ("doc_classifier", "accuracy", f"{self.document_type_accuracy:.4f}", ">= 0.98"),
            ("checkbox", f"box recall at IoU 0.5 ({self.checkbox_pages} form pages)",
             f"{self.checkbox_recall:.4f}", ">= 0.98"),
            ("checkbox", "box precision at IoU 0.5", f"{self.checkbox_precision:.4f}", "-"),
            ("checkbox", "state accuracy (found boxes)", f"{self.checkbox_state_accuracy:.4f}",
             ">= 0.99"),
            ("signature", "presence accuracy", f"{self.signature_presence_accuracy:.4f}",
             ">= 0.98"),
            ("signature", f"box IoU >= 0.5 ({self.signed_pages} signed pages)",
             f"{self.signature_iou50_rate:.4f}", ">= 0.95"),
            ("signature", "mean box IoU (signed pages)", f"{self.signature_mean_iou:.3f}", "-"),
        ]
        if self.baseline_skew_mae is not None:
            rows[3:3] = [
                ("`deskew` package", "mean abs error (deg)", f"{self.baseline_skew_mae:.3f}", "-"),
                ("`deskew` package", "p95 abs error (deg)", f"{self.baseline_skew_p95:.3f}", "-"),
                ("`deskew` package", "ms per page (full page)",
                 f"{self.baseline_ms_per_page:.1f}", "-"),
            ]
        lines = ["| model | metric | value | target |", "| --- | --- | --- | --- |"]
        lines += [f"| {' | '.join(row)} |" for row in rows]
        return f"Held-out synthetic pages: {self.pages}\n\n" + "\n".join(lines)


def held_out_pages(count: int, workers: int = 2) -> Iterator[GeneratedPage]:
    """Held-out pages, rendered in chunks so only a few are in memory at a time."""
    page_seeds = seeds(count, HELD_OUT_FIRST_SEED)
    for start in range(0, count, CHUNK):
        yield from generate_pages(page_seeds[start : start + CHUNK], workers)


def evaluate(models: VisionModels, count: int, with_baseline: bool = True,
             workers: int = 2) -> HeldOutMetrics:
    tally = Tally()
    for page in held_out_pages(count, workers):
        _score_page(models, page, tally, with_baseline)
    return _metrics(tally, count)


def _score_page(models: VisionModels, page: GeneratedPage, tally: Tally,
                with_baseline: bool) -> None:
    truth = page.truth
    started = time.perf_counter()
    thumbnail = page_thumbnail(page.image)[None]
    skew = float(models.skew_degrees(thumbnail)[0])
    tally.skew_seconds.append(time.perf_counter() - started)
    tally.skew_errors.append(abs(skew - truth.skew_degrees))
    if with_baseline:
        _score_baseline(page, tally)
    predicted_type = DOCUMENT_TYPES[int(np.argmax(models.document_type_probabilities(thumbnail)))]
    tally.type_hits[truth.document_type].append(predicted_type == truth.document_type)
    if truth.document_type == "application_form":
        _score_checkboxes(models.checkboxes(page.image), truth, tally)
    finding = models.signatures(thumbnail, [page.image.shape])[0]
    _score_signature(finding, truth, tally)


def _score_baseline(page: GeneratedPage, tally: Tally) -> None:
    from deskew import determine_skew  # the `bench` extra: a comparison, not a dependency

    started = time.perf_counter()
    angle = determine_skew(page.image, min_deviation=0.1, min_angle=-16, max_angle=16)
    tally.baseline_seconds.append(time.perf_counter() - started)
    # deskew returns the rotation that straightens the page: the opposite of our skew angle.
    estimate = -float(angle) if angle is not None else 0.0
    tally.baseline_errors.append(abs(estimate - page.truth.skew_degrees))


def _score_checkboxes(decision: CheckboxDecision, truth: PageTruth, tally: Tally) -> None:
    true_boxes = np.array([box.box for box in truth.checkboxes]).reshape(-1, 4)
    tally.checkboxes_true += len(true_boxes)
    tally.checkboxes_predicted += len(decision.boxes)
    if not len(true_boxes) or not len(decision.boxes):
        return
    overlaps = box_iou(true_boxes, decision.boxes)
    for index, checkbox in enumerate(truth.checkboxes):
        best = int(np.argmax(overlaps[index]))
        if overlaps[index, best] >= MATCH_IOU:
            overlaps[:, best] = 0  # one prediction matches one true box
            tally.checkboxes_found += 1
            tally.checkbox_states_right += bool(decision.checked[best]) == checkbox.checked


def _score_signature(finding: SignatureFinding, truth: PageTruth, tally: Tally) -> None:
    tally.signature_presence_right.append(finding.present == truth.signature.present)
    if truth.signature.present:
        found = finding.present
        iou = box_iou(np.array([truth.signature.box]), finding.box[None])[0, 0] if found else 0.0
        tally.signature_ious.append(float(iou))


def _mean(values: list[float] | list[bool]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _metrics(tally: Tally, pages: int) -> HeldOutMetrics:
    errors, baseline = np.array(tally.skew_errors), np.array(tally.baseline_errors)
    ious = np.array(tally.signature_ious)
    all_types = [hit for hits in tally.type_hits.values() for hit in hits]
    return HeldOutMetrics(
        pages=pages,
        skew_mae=float(errors.mean()),
        skew_p95=float(np.percentile(errors, 95)),
        skew_ms_per_page=1000 * _mean(tally.skew_seconds),
        baseline_skew_mae=float(baseline.mean()) if len(baseline) else None,
        baseline_skew_p95=float(np.percentile(baseline, 95)) if len(baseline) else None,
        baseline_ms_per_page=1000 * _mean(tally.baseline_seconds) if len(baseline) else None,
        document_type_accuracy=_mean(all_types),
        document_type_accuracy_by_type={t: _mean(hits) for t, hits in tally.type_hits.items()},
        checkbox_pages=len(tally.type_hits["application_form"]),
        checkbox_recall=tally.checkboxes_found / max(1, tally.checkboxes_true),
        checkbox_precision=tally.checkboxes_found / max(1, tally.checkboxes_predicted),
        checkbox_state_accuracy=tally.checkbox_states_right / max(1, tally.checkboxes_found),
        signature_presence_accuracy=_mean(tally.signature_presence_right),
        signed_pages=len(ious),
        signature_iou50_rate=float(np.mean(ious >= MATCH_IOU)) if len(ious) else float("nan"),
        signature_mean_iou=_mean(list(ious)),
    )
