"""Training examples extracted from factory pages, in worker processes, ready for torch.

Each page is rendered and reduced to what the models learn from (its thumbnail, checkbox
candidate crops with labels, the signature mask) inside the worker, so only small arrays cross
process boundaries and no full page is kept in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from docserve.export.documents.generator import generate_page
from docserve.export.documents.ground_truth import PageTruth
from docserve.processing.checkboxes import (
    STATE_LABELS,
    box_iou,
    crop_candidates,
    find_candidates,
)
from docserve.processing.page_thumbnail import (
    THUMBNAIL_SIZE,
    ThumbnailGeometry,
    page_thumbnail,
)
from docserve.processing.signature_heatmap import HEATMAP_SIZE

MATCH_IOU = 0.5
NEGATIVE_CROPS_PER_PAGE = 16


@dataclass(frozen=True)
class PageExample:
    truth: PageTruth
    thumbnail: np.ndarray  # uint8 [S, S]: ink * 255
    checkbox_crops: np.ndarray  # uint8 [N, 1, 32, 32]: ink * 255
    checkbox_states: np.ndarray  # int64 [N], index into STATE_LABELS
    signature_mask: np.ndarray  # uint8 [HEATMAP_SIZE, HEATMAP_SIZE]: signature coverage * 255


def page_example(seed: int) -> PageExample:
    page = generate_page(seed)
    crops, states = _checkbox_examples(page.image, page.truth, np.random.default_rng(seed))
    return PageExample(
        truth=page.truth,
        thumbnail=_to_uint8(page_thumbnail(page.image)[0]),
        checkbox_crops=_to_uint8(crops),
        checkbox_states=states,
        signature_mask=_signature_mask(page.truth),
    )


def page_examples(seeds: Sequence[int], workers: int = 2) -> list[PageExample]:
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(page_example, seeds, chunksize=8))


def _to_uint8(ink: np.ndarray) -> np.ndarray:
    return np.round(ink * 255).astype(np.uint8)


def _checkbox_examples(image: np.ndarray, truth: PageTruth,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Crops of the finder's candidates labelled by matching the truth, plus the true boxes."""
    candidates = find_candidates(image)
    true_boxes = np.array([box.box for box in truth.checkboxes], dtype=np.float32).reshape(-1, 4)
    true_states = np.array(
        [STATE_LABELS.index("checked" if box.checked else "unchecked") for box in truth.checkboxes],
        dtype=np.int64,
    )
    states = np.zeros(len(candidates), dtype=np.int64)
    if len(true_boxes) and len(candidates):
        overlaps = box_iou(candidates, true_boxes)
        matched = overlaps.max(axis=1) >= MATCH_IOU
        states[matched] = true_states[overlaps.argmax(axis=1)[matched]]
    negatives = np.flatnonzero(states == 0)
    dropped = rng.permutation(negatives)[NEGATIVE_CROPS_PER_PAGE:]
    keep = np.setdiff1d(np.arange(len(candidates)), dropped)
    boxes = np.concatenate([candidates[keep], true_boxes])
    return crop_candidates(image, boxes), np.concatenate([states[keep], true_states])


def _signature_mask(truth: PageTruth) -> np.ndarray:
    """Coverage of each heatmap cell by the signature's polygon (what the heatmap should say)."""
    mask = np.zeros((THUMBNAIL_SIZE, THUMBNAIL_SIZE), dtype=np.float32)
    if truth.signature.present:
        geometry = ThumbnailGeometry.for_page(truth.height, truth.width)
        polygon = np.array(truth.signature.polygon) * geometry.scale
        polygon += [geometry.offset_x, geometry.offset_y]
        cv2.fillPoly(mask, [np.round(polygon * 16).astype(np.int32)], 1.0, shift=4)
    small = cv2.resize(mask, (HEATMAP_SIZE, HEATMAP_SIZE), interpolation=cv2.INTER_AREA)
    return _to_uint8(small)
