"""Real-page metrics: confusion tables, orientation and skew of turned pages, the report."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export.documents.generator import generate_page
from docserve.export.vision.real_evaluation import TypeMetrics, model_skew, skew_metrics
from docserve.export.vision.real_orientation import orientation_metrics, stored_orientations
from docserve.export.vision.real_report import real_report

REPOSITORY = PROJECT_ROOT / "model_repository"


def test_type_metrics_read_per_type_accuracy_off_the_confusion_rows():
    metrics = TypeMetrics(("a", "b"), np.array([[3, 1], [0, 4]]))
    assert metrics.pages == 8 and metrics.accuracy == 7 / 8
    assert metrics.per_type == {"a": 0.75, "b": 1.0}
    assert "| a | 3 | 1 | 4 | 0.750 |" in metrics.table()


def test_a_turned_page_is_measured_against_its_own_skew_plus_the_turn():
    page = generate_page(10_000_026).image  # an invoice skewed by 0.5 deg
    metrics = skew_metrics("deskew", model_skew(REPOSITORY / "deskew" / "1" / "model.onnx"),
                           [page], np.array([[6.0, -9.0]]))
    assert len(metrics.errors) == 2 and metrics.errors.max() < 0.5  # a wrong sign: 12-18 deg


ORIENTATION_MODEL = REPOSITORY / "page_orientation" / "1" / "model.onnx"


def test_orientation_is_measured_against_the_turn_plus_the_stored_orientation():
    """Each page counts four times (0/90/180/270); a page stored sideways is right when the
    model finds the turn plus its stored angle, and a page that cannot be told is left out."""
    page = generate_page(10_000_000).image
    sideways = np.asarray(Image.fromarray(page).rotate(90, expand=True))
    pages = [("a.png", "letter", page), ("b.png", "letter", sideways), ("c.png", "other", page)]
    metrics = orientation_metrics(ORIENTATION_MODEL, pages, stored={"b.png": 90, "c.png": None})
    assert (metrics.untold, metrics.tests, metrics.right) == (1, 8, 8)
    assert sorted(metrics.by_turn) == [0, 90, 180, 270] and list(metrics.by_type) == ["letter"]
    assert "| **all** | 8 | 8 | **1.0000** |" in metrics.table()
    unlabelled = orientation_metrics(ORIENTATION_MODEL, pages[1:2], stored={})
    assert unlabelled.right == 0
    assert [(miss.turned, miss.truth, miss.found) for miss in unlabelled.misses] == [
        (0, 0, 90), (90, 90, 180), (180, 180, 270), (270, 270, 0)]


def test_the_stored_orientations_are_quarter_turns_or_untold():
    stored = stored_orientations()
    assert stored and set(stored.values()) <= {None, 0, 90, 180, 270}
    assert all(file.count("/") == 1 for file in stored)  # <type>/<file> in the real folder


def test_the_real_report_names_the_served_version_and_both_skew_estimators(tmp_path: Path):
    seed = 10_000_000
    while len(list(tmp_path.iterdir())) < 2:
        page = generate_page(seed)
        seed += 1
        folder = tmp_path / page.truth.document_type
        if page.truth.document_type in ("receipt", "letter") and not folder.exists():
            folder.mkdir()
            Image.fromarray(page.image).save(folder / "page.png")
    report = real_report(REPOSITORY, tmp_path, validation_only=False, skew_pages=1,
                         with_baseline=True)
    assert "(all pages): 2\n" in report
    for kind in ("letter", "receipt"):  # one page each in its confusion row, none elsewhere
        assert re.search(rf"\| {kind} \|( \d \|){{5}} 1 \|", report)
    assert re.search(r"\| application_form \|( 0 \|){5} 0 \|", report)
    assert "| deskew v1 | 2 |" in report and "| `deskew` package | 2 |" in report
    assert "Orientation (page_orientation version 1) on the same pages" in report
    assert re.search(r"\| turned 270 \| 2 \|", report) and "| **all** | 8 |" in report
