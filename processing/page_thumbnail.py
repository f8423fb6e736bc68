"""The page thumbnail the page-level models (deskew, doc_classifier, signature) all read.

One square, letterboxed "ink" image (0 = paper, 1 = black) of fixed size: aspect ratio is kept
(so text lines keep their angle) and the page is centred. :class:`ThumbnailGeometry` maps
thumbnail pixels back to page pixels, e.g. for the signature box.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THUMBNAIL_SIZE = 512


@dataclass(frozen=True)
class ThumbnailGeometry:
    """Page -> thumbnail: ``thumb = page * scale + offset`` (per axis)."""

    scale: float
    offset_x: float
    offset_y: float

    @classmethod
    def for_page(cls, height: int, width: int, size: int = THUMBNAIL_SIZE) -> ThumbnailGeometry:
        scale = size / max(height, width)
        return cls(scale, (size - width * scale) / 2, (size - height * scale) / 2)

    def to_page(self, box: np.ndarray) -> np.ndarray:
        """``[..., 4]`` thumbnail boxes (x0, y0, x1, y1) -> page pixels."""
        offset = np.array([self.offset_x, self.offset_y, self.offset_x, self.offset_y])
        return (np.asarray(box, dtype=np.float64) - offset) / self.scale


def page_thumbnail(page: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """``uint8 [H, W]`` grayscale page -> ``float32 [1, size, size]`` ink thumbnail."""
    geometry = ThumbnailGeometry.for_page(*page.shape, size=size)
    width = max(1, round(page.shape[1] * geometry.scale))
    height = max(1, round(page.shape[0] * geometry.scale))
    small = cv2.resize(page, (width, height), interpolation=cv2.INTER_AREA)
    thumbnail = np.zeros((size, size), dtype=np.float32)
    top, left = round(geometry.offset_y), round(geometry.offset_x)
    thumbnail[top : top + height, left : left + width] = 1.0 - small.astype(np.float32) / 255.0
    return thumbnail[None]
