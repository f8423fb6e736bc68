"""PP-OCR text detection around the ONNX model: page -> model input, probability map -> lines.

The detector (DB, "Differentiable Binarization") predicts for every pixel the probability that
it lies inside a text line, on a slightly shrunk line. Post-processing binarizes that map,
takes each connected region's minimum-area rectangle, drops weak or tiny ones, and grows
("unclips") the survivors back to the full line by the shrink the model was trained with.

Parameters are PaddleOCR's/rapidocr's defaults for PP-OCR det models, so the same weights give
the same lines here as in rapidocr: a difference in OCR quality would mean a bug, not a choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pyclipper

# The network downsamples by 32: both sides of its input must be multiples of it.
SIZE_MULTIPLE = 32
DETECTION_MEAN = 0.5
DETECTION_STD = 0.5


@dataclass(frozen=True)
class DetectionSettings:
    """How a page is sized for the detector and how its probability map becomes lines."""

    max_page_side: int = 2000  # pages are first shrunk to this: bounds memory and time
    min_detection_side: int = 736  # small pages are enlarged so text is big enough to find
    max_detection_side: int = 4000  # ...but a thin strip is not enlarged beyond this
    text_threshold: float = 0.3  # a pixel is text above this probability
    box_threshold: float = 0.5  # a region is kept if its mean probability reaches this
    unclip_ratio: float = 1.6  # how far a shrunk region is grown back (PP-OCR training)
    min_box_side: float = 3.0  # regions thinner than this (in map pixels) are noise
    max_candidates: int = 1000  # regions looked at per page


def round_to_multiple(value: float) -> int:
    return max(SIZE_MULTIPLE, int(round(value / SIZE_MULTIPLE) * SIZE_MULTIPLE))


def bound_page(page: np.ndarray, settings: DetectionSettings) -> np.ndarray:
    """Shrink a page whose longer side exceeds ``max_page_side`` (sides rounded to 32)."""
    height, width = page.shape[:2]
    if max(height, width) <= settings.max_page_side:
        return page
    ratio = settings.max_page_side / max(height, width)
    size = (round_to_multiple(int(width * ratio)), round_to_multiple(int(height * ratio)))
    return cv2.resize(page, size, interpolation=cv2.INTER_AREA)


def detection_input(page_bgr: np.ndarray, settings: DetectionSettings) -> np.ndarray:
    """The detector's input ``[1, 3, H, W]`` float32: resized to multiples of 32, normalized.

    Pages whose shorter side is under ``min_detection_side`` are enlarged to it (text on small
    renders is otherwise too thin for the map) as long as the longer side stays within
    ``max_detection_side``: a 2000 x 32 strip must not become a 46,000 x 736 tensor.
    """
    height, width = page_bgr.shape[:2]
    enlargement = min(
        settings.min_detection_side / min(height, width),
        settings.max_detection_side / max(height, width),
    )
    ratio = max(1.0, enlargement)
    size = (round_to_multiple(int(width * ratio)), round_to_multiple(int(height * ratio)))
    resized = cv2.resize(page_bgr, size)
    normalized = (resized.astype(np.float32) / 255.0 - DETECTION_MEAN) / DETECTION_STD
    return normalized.transpose(2, 0, 1)[np.newaxis]


def minimum_area_box(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The minimum-area rectangle around ``points`` as 4 corners (top-left first, clockwise)
    and the length of its shorter side."""
    rectangle = cv2.minAreaRect(points.reshape(-1, 1, 2).astype(np.float32))
    corners = cv2.boxPoints(rectangle)
    return order_clockwise(corners), float(min(rectangle[1]))


def order_clockwise(corners: np.ndarray) -> np.ndarray:
    """Order 4 corners as top-left, top-right, bottom-right, bottom-left."""
    by_x = corners[np.argsort(corners[:, 0], kind="stable")]
    left = by_x[:2][np.argsort(by_x[:2, 1], kind="stable")]
    right = by_x[2:][np.argsort(by_x[2:, 1], kind="stable")]
    return np.array([left[0], right[0], right[1], left[1]], dtype=np.float32)


def mean_probability_inside(probability_map: np.ndarray, box: np.ndarray) -> float:
    """Mean text probability inside the quadrilateral ``box`` (the region's confidence)."""
    height, width = probability_map.shape
    x_min, y_min = np.clip(np.floor(box.min(axis=0)).astype(int), 0, [width - 1, height - 1])
    x_max, y_max = np.clip(np.ceil(box.max(axis=0)).astype(int), 0, [width - 1, height - 1])
    mask = np.zeros((y_max - y_min + 1, x_max - x_min + 1), dtype=np.uint8)
    cv2.fillPoly(mask, [(box - [x_min, y_min]).astype(np.int32)], 1)
    return float(cv2.mean(probability_map[y_min : y_max + 1, x_min : x_max + 1], mask)[0])


def unclip(box: np.ndarray, unclip_ratio: float) -> np.ndarray:
    """Grow a shrunk text region by ``area * ratio / perimeter`` (the DB paper's offset)."""
    area = abs(cv2.contourArea(box.astype(np.float32)))
    perimeter = cv2.arcLength(box.astype(np.float32), closed=True)
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(box.tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    grown = offset.Execute(area * unclip_ratio / perimeter)
    return np.array(grown[0] if grown else box, dtype=np.float32).reshape(-1, 2)


def text_line_boxes(
    probability_map: np.ndarray, page_height: int, page_width: int, settings: DetectionSettings
) -> tuple[np.ndarray, np.ndarray]:
    """DB post-processing: ``[H, W]`` text probabilities -> line boxes on the page.

    Returns ``boxes`` ``[n, 4, 2]`` float32 (x, y corners clockwise from top-left, in the pixel
    coordinates of a ``page_height x page_width`` page) and their ``scores`` ``[n]``.
    """
    map_height, map_width = probability_map.shape
    text_mask = (probability_map > settings.text_threshold).astype(np.uint8)
    text_mask = cv2.dilate(text_mask, np.ones((2, 2), dtype=np.uint8))  # join broken strokes
    contours, _ = cv2.findContours(text_mask * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    scale = np.array([page_width / map_width, page_height / map_height], dtype=np.float32)
    boxes, scores = [], []
    for contour in contours[: settings.max_candidates]:
        box, short_side = minimum_area_box(contour)
        if short_side < settings.min_box_side:
            continue
        score = mean_probability_inside(probability_map, box)
        if score < settings.box_threshold:
            continue
        box, short_side = minimum_area_box(unclip(box, settings.unclip_ratio))
        if short_side < settings.min_box_side + 2:
            continue
        box = np.clip(np.round(box * scale), 0, [page_width - 1, page_height - 1])
        if _side_lengths(box).min() <= settings.min_box_side:
            continue
        boxes.append(box)
        scores.append(score)
    return (
        np.array(boxes, dtype=np.float32).reshape(-1, 4, 2),
        np.array(scores, dtype=np.float32),
    )


def _side_lengths(box: np.ndarray) -> np.ndarray:
    """Width (top edge) and height (left edge) of a clockwise box."""
    return np.array([np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[0] - box[3])])


def reading_order(boxes: np.ndarray) -> np.ndarray:
    """Indices that put line boxes in reading order: rows top to bottom, each left to right.

    Box centres are first turned by the page's skew (the median slope of the boxes' top edges),
    so that on a slightly rotated scan a long line's centre is not compared with a short line's
    below it at another height. A box joins the current row when its centre lies within half a
    line height of the row's first box: words of one line detected separately stay together.
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    top_edges = boxes[:, 1] - boxes[:, 0]
    skew = np.median(np.arctan2(top_edges[:, 1], top_edges[:, 0]))
    centres = boxes.mean(axis=1)
    along = centres[:, 0] * np.cos(skew) + centres[:, 1] * np.sin(skew)
    across = centres[:, 1] * np.cos(skew) - centres[:, 0] * np.sin(skew)
    heights = np.linalg.norm(boxes[:, 3] - boxes[:, 0], axis=1)
    row_of = np.zeros(len(boxes), dtype=np.int64)
    row_start = None
    for position, index in enumerate(np.argsort(across, kind="stable")):
        if row_start is None or across[index] - across[row_start] > heights[row_start] / 2:
            row_start = index
            row_of[index] = position
        else:
            row_of[index] = row_of[row_start]
    return np.lexsort((along, row_of))
