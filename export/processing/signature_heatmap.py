"""Signature heatmap (the ``signature`` model's output) -> present?, score and page box.

The network paints, at 1/4 of the thumbnail's resolution, the probability that each cell lies
in a signature. Upsampling that map before thresholding gives box edges finer than one cell; the
connected region holding the most probability is the signature.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from docserve.export.processing.page_thumbnail import THUMBNAIL_SIZE, ThumbnailGeometry

HEATMAP_STRIDE = 4
HEATMAP_SIZE = THUMBNAIL_SIZE // HEATMAP_STRIDE
PRESENCE_THRESHOLD = 0.5
# The map fades at a signature's edges: its box is drawn at a lower level than presence. Both
# chosen on validation pages (``docserve.export.vision.validation``), never on held-out ones.
EXTENT_THRESHOLD = 0.375
MIN_REGION_CELLS = 6  # at stride 4 on a 512 thumbnail: about 40x40 page pixels


@dataclass(frozen=True)
class SignatureFinding:
    present: bool
    score: float  # highest signature probability of the page
    box: np.ndarray  # float32 [4] page pixels (x0, y0, x1, y1); zeros when absent


def read_heatmap(heatmap: np.ndarray, page_height: int, page_width: int,
                 presence_threshold: float = PRESENCE_THRESHOLD,
                 extent_threshold: float = EXTENT_THRESHOLD) -> SignatureFinding:
    """``float32 [HEATMAP_SIZE, HEATMAP_SIZE]`` probabilities -> the page's signature finding.

    The thresholds default to the module's constants (what Triton and the reference path use);
    the arguments exist only for choosing those constants on validation pages.
    """
    score = float(heatmap.max())
    region = _best_region(heatmap, extent_threshold)
    if score < presence_threshold or region is None:
        return SignatureFinding(False, score, np.zeros(4, dtype=np.float32))
    geometry = ThumbnailGeometry.for_page(page_height, page_width)
    box = geometry.to_page(region).clip(0, [page_width, page_height, page_width, page_height])
    return SignatureFinding(True, score, box.astype(np.float32))


def _best_region(heatmap: np.ndarray, extent_threshold: float) -> np.ndarray | None:
    """Thumbnail box (x0, y0, x1, y1) of the region holding most probability mass, if any."""
    fine = cv2.resize(heatmap.astype(np.float32), (THUMBNAIL_SIZE, THUMBNAIL_SIZE),
                      interpolation=cv2.INTER_LINEAR)
    mask = (fine >= extent_threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return None
    mass = np.bincount(labels.ravel(), weights=fine.ravel(), minlength=count)[1:]
    best = 1 + int(np.argmax(mass))
    if stats[best, cv2.CC_STAT_AREA] < MIN_REGION_CELLS * HEATMAP_STRIDE**2:
        return None
    x, y = stats[best, cv2.CC_STAT_LEFT], stats[best, cv2.CC_STAT_TOP]
    width, height = stats[best, cv2.CC_STAT_WIDTH], stats[best, cv2.CC_STAT_HEIGHT]
    return np.array([x, y, x + width, y + height], dtype=np.float64)
