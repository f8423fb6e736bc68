"""Undo a page's skew: rotate it back by the angle the ``deskew`` model estimated.

The canvas grows so no corner of the page is cut off, and the new area is paper-white; the
angle convention is the factory's (counter-clockwise content rotation, as displayed).
"""

from __future__ import annotations

import cv2
import numpy as np

PAPER = 255


def deskew_page(page: np.ndarray, skew_degrees: float) -> np.ndarray:
    """``uint8 [H, W]`` page skewed by ``skew_degrees`` -> the upright page (larger canvas)."""
    height, width = page.shape
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), -skew_degrees, 1.0)
    cos, sin = abs(rotation[0, 0]), abs(rotation[0, 1])
    new_width = int(np.ceil(height * sin + width * cos))
    new_height = int(np.ceil(height * cos + width * sin))
    rotation[:, 2] += [(new_width - width) / 2, (new_height - height) / 2]
    return cv2.warpAffine(page, rotation, (new_width, new_height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=PAPER)
