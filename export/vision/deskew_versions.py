"""The deskew model's versions: 1 is the trained estimator, 2 (served) adds the gated readout.

Version 2 is version 1's trained scorer, weight for weight, behind :class:`GatedSkewEstimator`:
the same features and scorer, plus the guards that keep pages unlike the synthetic training
pages (straight scan edges, photo borders, hardly any text) from reading as +-16 deg. No
retraining is involved, so ``docserve export deskew`` builds it from the committed version 1
in seconds; ``docserve export models`` writes both after training. Version 1 stays for
rollback (``docserve models rollback deskew``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from docserve.export.documents.dataset import HELD_OUT_FIRST_SEED, generate_page
from docserve.export.onnx_export import ExportReport, export_checked
from docserve.export.vision.deskew_model import GatedSkewEstimator, SkewEstimator
from docserve.export.vision.reference import DESKEW
from docserve.processing.page_thumbnail import page_thumbnail

TRAINED_VERSION = 1
SERVED_VERSION = 2
PARITY_TOLERANCE_DEGREES = 1e-3
PARITY_PAGES = 4
PARITY_SEED = 0


def trained_estimator(model: Path) -> SkewEstimator:
    """The :class:`SkewEstimator` whose trained scorer a version-1 ``model.onnx`` holds (the
    fixed layers have no weights to read: they are rebuilt from their geometry)."""
    prefix = "scorer."
    state = {tensor.name.removeprefix(prefix): torch.from_numpy(numpy_helper.to_array(tensor).copy())
             for tensor in onnx.load(str(model)).graph.initializer
             if tensor.name.startswith(prefix)}
    estimator = SkewEstimator()
    estimator.scorer.load_state_dict(state)
    return estimator.eval()


def parity_samples() -> torch.Tensor:
    """Thumbnails that take every branch of the readout: held-out synthetic pages (the scorer),
    scattered dots with one straight rule (the sharpness fallback), scattered dots alone and a
    blank page (no reliable skew: 0)."""
    pages = [generate_page(HELD_OUT_FIRST_SEED + index).image for index in range(PARITY_PAGES)]
    rng = np.random.default_rng(PARITY_SEED)
    ruled, dots, blank = (np.full((1000, 760), 255, dtype=np.uint8) for _ in range(3))
    for page, count in ((ruled, 400), (dots, 200)):
        page[rng.integers(0, 1000, count), rng.integers(0, 760, count)] = 0
    ruled[300:303, 50:700] = 0
    return torch.from_numpy(np.stack([page_thumbnail(page)
                                      for page in [*pages, ruled, dots, blank]]))


def export_gated_version(repository: Path, estimator: SkewEstimator,
                         samples: torch.Tensor | None = None) -> ExportReport:
    """Write ``deskew/<SERVED_VERSION>/model.onnx``: ``estimator`` behind the gated readout,
    checked against torch (max abs diff, degrees)."""
    return export_checked(
        GatedSkewEstimator(estimator).eval(), [parity_samples() if samples is None else samples],
        repository / DESKEW.model / str(SERVED_VERSION) / "model.onnx",
        input_names=[DESKEW.input], output_names=[DESKEW.output],
        tolerance=PARITY_TOLERANCE_DEGREES,
    )


def build_served_version(repository: Path) -> ExportReport:
    """Version 2 from the committed version 1 (``docserve export deskew``)."""
    trained = repository / DESKEW.model / str(TRAINED_VERSION) / "model.onnx"
    return export_gated_version(repository, trained_estimator(trained))
