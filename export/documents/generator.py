"""``generate_page(seed)``: one synthetic scanned page and its exact ground truth.

Everything random is drawn from ``numpy.random.default_rng(seed)``, so a seed is a page: the same
seed gives the same pixels and the same JSON on every run (given the same fonts and libraries).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from docserve.contract.document_types import DOCUMENT_TYPES
from docserve.export.documents.canvas import PageCanvas
from docserve.export.documents.ground_truth import (
    Box,
    CheckboxTruth,
    PageTruth,
    Polygon,
    SignatureTruth,
    TextLineTruth,
)
from docserve.export.documents.layouts import LAYOUTS
from docserve.export.documents.scan import (
    ScanGeometry,
    degrade,
    draw_stamp,
    scan_geometry,
    scanner_background,
    warp_page,
)
from docserve.processing.page_rotation import MAX_SKEW_DEGREES


@dataclass(frozen=True)
class GeneratedPage:
    image: np.ndarray  # uint8 [height, width] grayscale scan
    truth: PageTruth


def generate_page(seed: int, max_skew_degrees: float = MAX_SKEW_DEGREES) -> GeneratedPage:
    """A synthetic scan of a random document type, skewed within the range deskew straightens."""
    rng = np.random.default_rng(seed)
    document_type = DOCUMENT_TYPES[int(rng.integers(len(DOCUMENT_TYPES)))]
    canvas = LAYOUTS[document_type](rng)
    if rng.random() < 0.3:
        draw_stamp(canvas, rng)
    skew = round(float(rng.uniform(-max_skew_degrees, max_skew_degrees)), 3)
    geometry = scan_geometry(canvas.width, canvas.height, skew, rng)
    page = warp_page(np.asarray(canvas.image), geometry, scanner_background(rng))
    image = degrade(page, rng)
    return GeneratedPage(image, _truth(seed, document_type, skew, canvas, geometry))


def _truth(seed: int, document_type: str, skew: float, canvas: PageCanvas,
           geometry: ScanGeometry) -> PageTruth:
    def polygon(box: Box) -> Polygon:
        x0, y0, x1, y1 = box
        points = geometry.map_points(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
        return tuple((round(float(x), 2), round(float(y), 2)) for x, y in points)  # type: ignore[return-value]

    signature = (
        SignatureTruth(True, polygon(canvas.signature_box)) if canvas.signature_box else SignatureTruth(False)
    )
    return PageTruth(
        seed=seed,
        document_type=document_type,
        width=geometry.width,
        height=geometry.height,
        skew_degrees=skew,
        text_lines=[TextLineTruth(t.text, polygon(t.box), t.handwritten) for t in canvas.texts],
        checkboxes=[CheckboxTruth(polygon(c.box), c.checked, c.mark) for c in canvas.checkboxes],
        signature=signature,
    )
