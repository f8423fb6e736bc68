"""Checkbox candidates (classical) and the decision on the classifier's scores.

:func:`find_candidates` proposes every small, roughly square closed shape of a page (a box seen
at up to ~15 degrees of skew is still square-ish); the trained ``checkbox`` model then says, per
crop, whether it is a checkbox at all and whether it is ticked. Keeping the proposal classical
makes it size- and count-agnostic; the network only sees fixed-size crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from docserve.processing.step_errors import StepInputError

CROP_SIZE = 32
CROP_CONTEXT = 0.25  # margin around a candidate, as a fraction of its side, seen by the classifier
STATE_LABELS: tuple[str, ...] = ("not_a_checkbox", "unchecked", "checked")
MIN_SIDE_PX, MAX_SIDE_PX = 12, 48  # at ~150 dpi: 2 mm to 8 mm
MAX_ASPECT = 1.35
DUPLICATE_IOU = 0.3
MIN_HULL_FILL = 0.3  # a square rotated by 15 degrees fills ~70% of its bounds; a thin stroke ~0%


@dataclass(frozen=True)
class CheckboxDecision:
    boxes: np.ndarray  # float32 [N, 4] page pixels
    checked: np.ndarray  # bool [N]
    confidence: np.ndarray  # float32 [N], probability of the chosen state


def box_iou(boxes: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``[N, 4]`` and ``[M, 4]`` (x0, y0, x1, y1) boxes -> ``[N, M]``."""
    boxes, other = np.asarray(boxes, np.float64), np.asarray(other, np.float64)
    top_left = np.maximum(boxes[:, None, :2], other[None, :, :2])
    bottom_right = np.minimum(boxes[:, None, 2:], other[None, :, 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    other_area = np.prod(other[:, 2:] - other[:, :2], axis=1)
    return intersection / (area[:, None] + other_area[None, :] - intersection + 1e-9)


def find_candidates(page: np.ndarray) -> np.ndarray:
    """``uint8 [H, W]`` page -> ``float32 [N, 4]`` candidate boxes, largest first, de-duplicated."""
    ink = cv2.adaptiveThreshold(
        cv2.GaussianBlur(page, (3, 3), 0), 255, cv2.ADAPTIVE_THRESH_MEAN_C,
        cv2.THRESH_BINARY_INV, 31, 7,
    )
    contours, _ = cv2.findContours(ink, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes = [_box(contour) for contour in contours if _looks_like_a_box(contour)]
    if not boxes:
        return np.zeros((0, 4), dtype=np.float32)
    return _drop_duplicates(np.array(boxes, dtype=np.float32))


def _box(contour: np.ndarray) -> tuple[float, float, float, float]:
    x, y, width, height = cv2.boundingRect(contour)
    return (x, y, x + width, y + height)


def _looks_like_a_box(contour: np.ndarray) -> bool:
    _, _, width, height = cv2.boundingRect(contour)
    if not (MIN_SIDE_PX <= width <= MAX_SIDE_PX and MIN_SIDE_PX <= height <= MAX_SIDE_PX):
        return False
    if max(width, height) > MAX_ASPECT * min(width, height):
        return False
    hull_area = cv2.contourArea(cv2.convexHull(contour))
    return hull_area >= MIN_HULL_FILL * width * height


def _drop_duplicates(boxes: np.ndarray) -> np.ndarray:
    """Keep the larger of overlapping boxes (a box's outer and inner outline are both found)."""
    order = np.argsort(-np.prod(boxes[:, 2:] - boxes[:, :2], axis=1))
    boxes = boxes[order]
    overlaps = box_iou(boxes, boxes)
    keep: list[int] = []
    for index in range(len(boxes)):
        if all(overlaps[index, kept] < DUPLICATE_IOU for kept in keep):
            keep.append(index)
    return boxes[keep]


def crop_candidates(page: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``[N, 4]`` boxes -> ``float32 [N, 1, CROP_SIZE, CROP_SIZE]`` ink crops with some context."""
    crops = np.zeros((len(boxes), 1, CROP_SIZE, CROP_SIZE), dtype=np.float32)
    height, width = page.shape
    for index, (x0, y0, x1, y1) in enumerate(np.asarray(boxes, dtype=np.float64)):
        margin = CROP_CONTEXT * max(x1 - x0, y1 - y0)
        left, top = max(0, int(x0 - margin)), max(0, int(y0 - margin))
        right = min(width, int(np.ceil(x1 + margin)))
        bottom = min(height, int(np.ceil(y1 + margin)))
        patch = cv2.resize(page[top:bottom, left:right], (CROP_SIZE, CROP_SIZE),
                           interpolation=cv2.INTER_AREA)
        crops[index, 0] = 1.0 - patch.astype(np.float32) / 255.0
    return crops


def decide(boxes: np.ndarray, state_probabilities: np.ndarray) -> CheckboxDecision:
    """Keep the candidates the classifier calls a checkbox, with their checked state."""
    if len(boxes) != len(state_probabilities):
        raise StepInputError(
            f"{len(boxes)} candidate boxes but {len(state_probabilities)} state probability rows"
        )
    state = np.argmax(state_probabilities, axis=1)
    keep = state != STATE_LABELS.index("not_a_checkbox")
    return CheckboxDecision(
        boxes=np.asarray(boxes, dtype=np.float32)[keep],
        checked=state[keep] == STATE_LABELS.index("checked"),
        confidence=np.max(state_probabilities, axis=1)[keep].astype(np.float32),
    )
