"""Signature heatmap (the ``signature`` model's output) -> present?, score and page box.

The network paints, at 1/4 of the thumbnail's resolution, how much of each cell lies in the
signature's (skewed) ink box. The connected region holding the most probability is the
signature. Its box is the rectangle with the region's mass-weighted centre and covariance (a
uniformly painted side of length ``L`` has variance ``L**2 / 12``), turned with the region's main
axis, so a skewed signature gets its rotated box's bounds. Cells the network paints only faintly
(a trailing stroke, a second word) still count with their weight, where a level crossing would
drop them: on validation pages this read more boxes to IoU >= 0.5 than the crossing did.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from docserve.processing.page_thumbnail import THUMBNAIL_SIZE, ThumbnailGeometry

HEATMAP_STRIDE = 4
HEATMAP_SIZE = THUMBNAIL_SIZE // HEATMAP_STRIDE
PRESENCE_THRESHOLD = 0.5
# The map fades at a signature's edges: its region is found at a lower level than presence. Both
# chosen on validation pages (``docserve.export.vision.validation``), never on held-out ones.
EXTENT_THRESHOLD = 0.35
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
    heatmap = heatmap.astype(np.float64)
    score = float(heatmap.max())
    region = _best_region(heatmap, extent_threshold)
    if score < presence_threshold or region is None:
        return SignatureFinding(False, score, np.zeros(4, dtype=np.float32))
    geometry = ThumbnailGeometry.for_page(page_height, page_width)
    box = geometry.to_page(_moment_box(heatmap, region) * HEATMAP_STRIDE)
    box = box.clip(0, [page_width, page_height, page_width, page_height])
    return SignatureFinding(True, score, box.astype(np.float32))


def _best_region(heatmap: np.ndarray, extent_threshold: float) -> np.ndarray | None:
    """Cells (bool mask) of the region holding most probability mass, with a one-cell rim where
    the map fades out; None when no region is large enough."""
    mask = (heatmap >= extent_threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return None
    mass = np.bincount(labels.ravel(), weights=heatmap.ravel(), minlength=count)[1:]
    best = 1 + int(np.argmax(mass))
    if stats[best, cv2.CC_STAT_AREA] < MIN_REGION_CELLS:
        return None
    return cv2.dilate((labels == best).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0


def _moment_box(heatmap: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Heatmap-cell box (x0, y0, x1, y1) of the rectangle with the region's mass moments."""
    weights = np.where(region, heatmap, 0.0)
    rows, columns = np.mgrid[0 : heatmap.shape[0], 0 : heatmap.shape[1]] + 0.5  # cell centres
    mass = weights.sum()
    centre_x, centre_y = (weights * columns).sum() / mass, (weights * rows).sum() / mass
    dx, dy = columns - centre_x, rows - centre_y
    covariance = np.array([[(weights * dx * dx).sum(), (weights * dx * dy).sum()],
                           [(weights * dx * dy).sum(), (weights * dy * dy).sum()]]) / mass
    variances, axes = np.linalg.eigh(covariance)
    half_sides = np.sqrt(np.maximum(12 * variances, 0.25)) / 2
    half_width, half_height = np.abs(axes[0]) @ half_sides, np.abs(axes[1]) @ half_sides
    return np.array([centre_x - half_width, centre_y - half_height,
                     centre_x + half_width, centre_y + half_height])
