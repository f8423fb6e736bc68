"""DB post-processing, page sizing and reading order on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from docserve.processing.text_detection import (
    DetectionSettings,
    bound_page,
    detection_input,
    reading_order,
    text_line_boxes,
)

SETTINGS = DetectionSettings()
LINE_CORE = (20, 10, 30, 110, 0.9)  # a 100 x 10 px shrunk line, as DB predicts it


def probability_map(height: int, width: int, regions: list[tuple[int, int, int, int, float]]):
    """A map of zeros with rectangles (top, left, bottom, right, probability) filled in."""
    result = np.zeros((height, width), dtype=np.float32)
    for top, left, bottom, right, probability in regions:
        result[top:bottom, left:right] = probability
    return result


def test_each_text_region_becomes_one_box_grown_around_the_shrunk_region() -> None:
    boxes, scores = text_line_boxes(probability_map(64, 128, [LINE_CORE]), 64, 128, SETTINGS)
    assert boxes.shape == (1, 4, 2) and scores.shape == (1,)
    (x_min, y_min), (x_max, y_max) = boxes[0].min(axis=0), boxes[0].max(axis=0)
    # unclip offset = area * 1.6 / perimeter ~ 7.3 px (the map was dilated by 1 px first)
    assert x_min == pytest.approx(10 - 8, abs=1.5) and x_max == pytest.approx(110 + 7, abs=1.5)
    assert y_min == pytest.approx(20 - 8, abs=1.5) and y_max == pytest.approx(30 + 7, abs=1.5)
    # the score is the mean inside the dilated region's rectangle: its 1 px rim of zeros dilutes
    # the 0.9 (100 x 10 pixels of 0.9 in 101 x 11)
    assert scores[0] == pytest.approx(0.9 * 1000 / (101 * 11), abs=0.02)


def test_boxes_are_clockwise_from_top_left() -> None:
    boxes, _ = text_line_boxes(probability_map(64, 128, [LINE_CORE]), 64, 128, SETTINGS)
    top_left, top_right, bottom_right, bottom_left = boxes[0]
    assert top_left[0] < top_right[0] and top_left[1] < bottom_left[1]
    assert bottom_right[0] > bottom_left[0] and bottom_right[1] > top_right[1]


def test_boxes_are_scaled_from_map_to_page_pixels() -> None:
    on_map, _ = text_line_boxes(probability_map(64, 128, [LINE_CORE]), 64, 128, SETTINGS)
    on_page, _ = text_line_boxes(probability_map(64, 128, [LINE_CORE]), 128, 256, SETTINGS)
    np.testing.assert_allclose(on_page, on_map * 2, atol=1.0)


def test_weak_regions_are_dropped_by_the_box_threshold() -> None:
    weak = (20, 10, 30, 110, 0.45)  # text pixels (> 0.3) but a mean below box_threshold 0.5
    boxes, scores = text_line_boxes(probability_map(64, 128, [weak]), 64, 128, SETTINGS)
    assert boxes.shape == (0, 4, 2) and scores.shape == (0,)


def test_specks_thinner_than_the_minimum_size_are_dropped() -> None:
    speck = (20, 10, 22, 60, 0.95)  # 2 px thin
    line = (40, 10, 50, 110, 0.95)
    boxes, _ = text_line_boxes(probability_map(64, 128, [speck, line]), 64, 128, SETTINGS)
    assert len(boxes) == 1 and boxes[0][:, 1].min() > 30


def test_a_blank_map_gives_no_boxes() -> None:
    boxes, scores = text_line_boxes(np.zeros((64, 128), np.float32), 64, 128, SETTINGS)
    assert boxes.shape == (0, 4, 2) and scores.shape == (0,)


def test_detection_input_is_normalized_and_sized_in_multiples_of_32() -> None:
    page = np.full((500, 700, 3), 255, dtype=np.uint8)
    page[0, 0] = 0
    tensor = detection_input(page, SETTINGS)
    assert tensor.dtype == np.float32 and tensor.shape[:2] == (1, 3)
    height, width = tensor.shape[2:]
    assert height % 32 == 0 and width % 32 == 0
    assert min(height, width) >= SETTINGS.min_detection_side - 16  # small pages are enlarged
    assert tensor.max() == pytest.approx(1.0) and tensor.min() == pytest.approx(-1.0)


def test_thin_strips_are_not_enlarged_beyond_the_maximum_detection_side() -> None:
    strip = np.zeros((32, 2000, 3), dtype=np.uint8)  # 736 / 32 = 23x would be 46,000 px wide
    height, width = detection_input(strip, SETTINGS).shape[2:]
    assert width <= SETTINGS.max_detection_side + 16 and height >= 32


def test_large_pages_are_bounded_before_detection() -> None:
    page = np.zeros((6000, 4000, 3), dtype=np.uint8)
    bounded = bound_page(page, SETTINGS)
    assert max(bounded.shape[:2]) <= SETTINGS.max_page_side + 16
    assert bounded.shape[0] % 32 == 0 and bounded.shape[1] % 32 == 0
    small = np.zeros((800, 600, 3), dtype=np.uint8)
    assert bound_page(small, SETTINGS) is small


def box(left: float, top: float, right: float, bottom: float, drop: float = 0.0) -> np.ndarray:
    """A box whose right side is ``drop`` pixels lower than its left side."""
    return np.array(
        [[left, top], [right, top + drop], [right, bottom + drop], [left, bottom]], np.float32
    )


def test_reading_order_is_rows_top_to_bottom_then_left_to_right() -> None:
    boxes = np.stack(
        [
            box(400, 102, 600, 130),  # row 2, right (a little lower: same row)
            box(10, 10, 300, 40),  # row 1
            box(10, 100, 300, 128),  # row 2, left
        ]
    )
    assert reading_order(boxes).tolist() == [1, 2, 0]


def test_reading_order_on_a_rotated_scan_keeps_a_short_line_after_the_long_one_above() -> None:
    # Page turned clockwise by 1.5 degrees, lines 28 px apart: the long line's centre is 10 px
    # lower than its left end, within half a box height of the short line's centre below it.
    long_line = box(80, 100, 900, 126, drop=21)
    short_line = box(80, 128, 240, 154, drop=4)
    assert reading_order(np.stack([short_line, long_line])).tolist() == [1, 0]


def test_reading_order_of_no_boxes_is_empty() -> None:
    assert reading_order(np.zeros((0, 4, 2), np.float32)).shape == (0,)
