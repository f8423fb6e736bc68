"""Undo a page's skew, and map points found on the upright page back onto the page as sent.

The canvas grows so no corner of the page is cut off, and the new area is paper-white; the
angle convention is the factory's (counter-clockwise content rotation, as displayed). Models
that read the upright page (checkboxes, OCR) report coordinates on that larger canvas;
:func:`undo_deskew` turns them into coordinates a client can draw on the image it sent.
"""

from __future__ import annotations

import cv2
import numpy as np

PAPER = 255
# The deskew model's range; a larger estimate is straightened by this much. Bounding the angle
# bounds the canvas, which the gateway checks before a page is accepted (deskew_canvas_pixels).
MAX_SKEW_DEGREES = 15.0


def deskew_transform(height: int, width: int, skew_degrees: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The affine map page -> upright canvas (``2 x 3``) and the canvas size ``(width, height)``."""
    skew_degrees = float(np.clip(skew_degrees, -MAX_SKEW_DEGREES, MAX_SKEW_DEGREES))
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), -skew_degrees, 1.0)
    cos, sin = abs(rotation[0, 0]), abs(rotation[0, 1])
    new_width = int(np.ceil(height * sin + width * cos))
    new_height = int(np.ceil(height * cos + width * sin))
    rotation[:, 2] += [(new_width - width) / 2, (new_height - height) / 2]
    return rotation, (new_width, new_height)


def deskew_canvas_pixels(width: float, height: float) -> int:
    """Pixels of the largest canvas :func:`deskew_page` can make of a ``width x height`` page
    (at ``MAX_SKEW_DEGREES``: the canvas grows with the angle up to 45 degrees)."""
    _, (new_width, new_height) = deskew_transform(int(np.ceil(height)), int(np.ceil(width)), MAX_SKEW_DEGREES)
    return new_width * new_height


def deskew_page(page: np.ndarray, skew_degrees: float) -> np.ndarray:
    """``uint8 [H, W]`` page skewed by ``skew_degrees`` -> the upright page (larger canvas)."""
    rotation, size = deskew_transform(*page.shape, skew_degrees)
    return cv2.warpAffine(page, rotation, size, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=PAPER)


def undo_deskew(points: np.ndarray, height: int, width: int, skew_degrees: float) -> np.ndarray:
    """``[..., 2]`` (x, y) points on the upright canvas -> the same points on the original
    ``height x width`` page that :func:`deskew_page` straightened by ``skew_degrees``."""
    rotation, _ = deskew_transform(height, width, skew_degrees)
    inverse = cv2.invertAffineTransform(rotation)
    points = np.asarray(points, dtype=np.float64)
    return (points @ inverse[:, :2].T + inverse[:, 2]).astype(np.float32)


def box_corners(boxes: np.ndarray) -> np.ndarray:
    """``[n, 4]`` boxes (x0, y0, x1, y1) -> ``[n, 4, 2]`` corners clockwise from top-left."""
    x0, y0, x1, y1 = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).T
    return np.stack([np.stack([x0, y0], -1), np.stack([x1, y0], -1),
                     np.stack([x1, y1], -1), np.stack([x0, y1], -1)], axis=1)
