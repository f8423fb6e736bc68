"""Golden sets of the vision models: what ``docserve models promote`` gates a new version on.

Held-out synthetic pages (seeds no model was trained or tuned on) as the models' own input, with
the expected answer from the page's ground truth: page thumbnails with their skew for ``deskew``
and their type for ``doc_classifier`` (in the served version's label order); the crops of the
true checkboxes with their state for ``checkbox``. (``signature`` answers a heatmap, which
neither metric fits: it has no golden set yet.) Thumbnails are stored as
8-bit (``input_scale`` turns them back into the model's [0, 1] floats) to keep the repository
small; the gate compares the live and the candidate version on the same inputs, so that rounding
cannot favour either. Real pages cannot be committed (their licences), so the real-page metrics
stay in the model cards.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from docserve.contract.golden_sets import EXPECTED_FILE, GOLDEN_FOLDER, INPUTS_FILE, SPEC_FILE, GoldenMetric
from docserve.export.documents.dataset import HELD_OUT_FIRST_SEED
from docserve.export.documents.generator import generate_page
from docserve.export.vision.reference import (
    CHECKBOX,
    DESKEW,
    DOC_CLASSIFIER,
    TensorContract,
    newest_version,
)
from docserve.processing.checkboxes import STATE_LABELS, crop_candidates
from docserve.processing.document_labels import read_labels
from docserve.processing.page_thumbnail import page_thumbnail

PAGES = 12
# Degrees of mean error; accuracy (one page of 12); accuracy (two of the 43 checkboxes).
MAX_DROP = {"deskew": 0.05, "doc_classifier": 0.09, "checkbox": 0.05}


def write_golden_sets(repository: Path, pages: int = PAGES) -> list[Path]:
    """Write the ``golden`` folders of deskew, doc_classifier and checkbox; returns them."""
    generated = [generate_page(HELD_OUT_FIRST_SEED + offset) for offset in range(pages)]
    thumbnails = np.stack([page_thumbnail(page.image) for page in generated])
    skews = np.array([page.truth.skew_degrees for page in generated], dtype=np.float32)
    classifier = repository / DOC_CLASSIFIER.model
    labels = read_labels(classifier / str(newest_version(classifier)))
    types = np.array([labels.index(page.truth.document_type) for page in generated], dtype=np.int64)
    crops, states = _checkbox_crops(generated)
    return [
        _write(repository, DESKEW, _eight_bit(thumbnails), skews, GoldenMetric.MEAN_ABSOLUTE_ERROR),
        _write(repository, DOC_CLASSIFIER, _eight_bit(thumbnails), types, GoldenMetric.ACCURACY),
        _write(repository, CHECKBOX, _eight_bit(crops), states, GoldenMetric.ACCURACY),
    ]


def _checkbox_crops(pages) -> tuple[np.ndarray, np.ndarray]:
    """The crops of every true checkbox of the pages, and the index of its state."""
    crops, states = [], []
    for page in pages:
        truth = page.truth.checkboxes
        boxes = np.array([checkbox.box for checkbox in truth], dtype=np.float32).reshape(-1, 4)
        crops.append(crop_candidates(page.image, boxes))
        states += [STATE_LABELS.index("checked" if checkbox.checked else "unchecked") for checkbox in truth]
    return np.concatenate(crops), np.array(states, dtype=np.int64)


def _eight_bit(values: np.ndarray) -> np.ndarray:
    return np.round(np.clip(values, 0.0, 1.0) * 255).astype(np.uint8)


def _write(repository: Path, contract: TensorContract, inputs: np.ndarray, expected: np.ndarray,
           metric: GoldenMetric) -> Path:
    golden = repository / contract.model / GOLDEN_FOLDER
    golden.mkdir(parents=True, exist_ok=True)
    np.save(golden / INPUTS_FILE, inputs)
    np.save(golden / EXPECTED_FILE, expected)
    spec = {"input": contract.input, "output": contract.output, "metric": metric,
            "max_drop": MAX_DROP[contract.model], "input_scale": 1 / 255,
            "about": f"{len(inputs)} held-out synthetic pages, seeds {HELD_OUT_FIRST_SEED}+"}
    (golden / SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n")
    return golden
