"""Golden sets of the vision models: what ``docserve models promote`` gates a new version on.

Held-out synthetic pages (seeds no model was trained or tuned on) as the models' own input, the
page thumbnail, with the expected answer from the page's ground truth: the skew for ``deskew``,
the type for ``doc_classifier`` (in the served version's label order). Thumbnails are stored as
8-bit (``input_scale`` turns them back into the model's [0, 1] floats) to keep the repository
small; the gate compares the live and the candidate version on the same inputs, so that rounding
cannot favour either. Real pages cannot be committed (their licences), so the real-page metrics
stay in the model cards.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from docserve.export.documents.generator import generate_page
from docserve.export.processing.document_labels import read_labels
from docserve.export.processing.page_thumbnail import page_thumbnail
from docserve.export.vision.reference import DESKEW, DOC_CLASSIFIER, TensorContract, newest_version

FIRST_SEED = 10_000_000  # the held-out range (tests and model cards use it too)
PAGES = 12
MAX_DROP = {"deskew": 0.05, "doc_classifier": 0.09}  # degrees of mean error; accuracy (1 page of 12)


def write_golden_sets(repository: Path, pages: int = PAGES) -> list[Path]:
    """Write ``deskew/golden`` and ``doc_classifier/golden``; returns the folders written."""
    generated = [generate_page(FIRST_SEED + offset) for offset in range(pages)]
    thumbnails = np.stack([page_thumbnail(page.image) for page in generated])
    inputs = np.round(np.clip(thumbnails, 0.0, 1.0) * 255).astype(np.uint8)
    skews = np.array([page.truth.skew_degrees for page in generated], dtype=np.float32)
    classifier = repository / DOC_CLASSIFIER.model
    labels = read_labels(classifier / str(newest_version(classifier)))
    types = np.array([labels.index(page.truth.document_type) for page in generated], dtype=np.int64)
    return [
        _write(repository, DESKEW, inputs, skews, "mean_absolute_error"),
        _write(repository, DOC_CLASSIFIER, inputs, types, "accuracy"),
    ]


def _write(repository: Path, contract: TensorContract, inputs: np.ndarray, expected: np.ndarray,
           metric: str) -> Path:
    golden = repository / contract.model / "golden"
    golden.mkdir(parents=True, exist_ok=True)
    np.save(golden / "inputs.npy", inputs)
    np.save(golden / "expected.npy", expected)
    spec = {"input": contract.input, "output": contract.output, "metric": metric,
            "max_drop": MAX_DROP[contract.model], "input_scale": 1 / 255,
            "about": f"{len(inputs)} held-out synthetic pages, seeds {FIRST_SEED}+"}
    (golden / "golden.json").write_text(json.dumps(spec, indent=2) + "\n")
    return golden
