"""The shared pre/post-processing of the vision models, on pages with known answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from docserve.export.documents.generator import generate_page
from docserve.export.vision.deskew_model import RowAndColumnFeatures, skew_angle_grid
from docserve.processing.checkboxes import (
    CROP_SIZE,
    STATE_LABELS,
    crop_candidates,
    decide,
    find_candidates,
)
from docserve.processing.page_rotation import deskew_page
from docserve.processing.page_thumbnail import (
    THUMBNAIL_SIZE,
    ThumbnailGeometry,
    page_thumbnail,
)
from docserve.processing.signature_heatmap import HEATMAP_SIZE, read_heatmap
from docserve.processing.step_errors import StepInputError

COLUMN_LAG_1 = 4  # RowAndColumnFeatures: 4 row features, then the same 4 for columns


def sharpest_angle(page: np.ndarray, feature: int = 0) -> float:
    """The grid angle whose projection profile is sharpest (the fixed layers, no training)."""
    thumbnail = torch.from_numpy(page_thumbnail(page))[None]
    with torch.no_grad():
        features = RowAndColumnFeatures()(thumbnail)
    return float(skew_angle_grid()[int(features[0, feature].argmax())])


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_projection_profiles_are_sharpest_at_the_skew(seed: int):
    page = generate_page(seed)
    assert sharpest_angle(page.image) == pytest.approx(page.truth.skew_degrees, abs=0.75)


@pytest.mark.parametrize("skew", [-6.0, 4.0])
def test_row_and_column_profiles_agree_on_the_skew(skew: float):
    """A rotated grid (page sized like its thumbnail: no letterbox edge): rows and columns,
    read separately, both peak at the skew, so the column half is lined up with the row half."""
    page = np.full((1024, 1024), 255, dtype=np.uint8)
    page[100:924:48, 100:924] = 0
    page[100:924, 100:924:48] = 0
    rotation = cv2.getRotationMatrix2D((512, 512), skew, 1.0)
    page = cv2.warpAffine(page, rotation, (1024, 1024), borderValue=255)
    assert sharpest_angle(page) == pytest.approx(skew, abs=0.3)
    assert sharpest_angle(page, COLUMN_LAG_1) == pytest.approx(skew, abs=0.3)


def test_a_mirrored_page_has_mirrored_alignment_features():
    """Why the deskew training may mirror samples: features flip along the angle axis."""
    page = generate_page(21).image
    layers = RowAndColumnFeatures()
    with torch.no_grad():
        features = layers(torch.from_numpy(page_thumbnail(page))[None])
        mirrored_page = np.ascontiguousarray(page[:, ::-1])
        mirrored = layers(torch.from_numpy(page_thumbnail(mirrored_page))[None])
    np.testing.assert_allclose(mirrored.numpy(), features.flip(2).numpy(), rtol=0.05, atol=0.02)


def test_deskew_page_undoes_the_skew():
    page = generate_page(31)
    upright = deskew_page(page.image, page.truth.skew_degrees)
    assert upright.shape[0] >= page.image.shape[0] and upright.dtype == np.uint8
    height, width = upright.shape
    text_area = upright[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4]  # no scan edges
    assert abs(sharpest_angle(text_area)) <= 0.5


def test_thumbnail_geometry_round_trips_page_boxes():
    page = np.full((1650, 1275), 255, dtype=np.uint8)
    page[800:900, 300:700] = 0
    geometry = ThumbnailGeometry.for_page(*page.shape)
    thumbnail = page_thumbnail(page)[0]
    ys, xs = np.nonzero(thumbnail > 0.5)
    box = geometry.to_page(np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]))
    np.testing.assert_allclose(box, [300, 800, 700, 900], atol=4)
    assert thumbnail.shape == (THUMBNAIL_SIZE, THUMBNAIL_SIZE)


def test_heatmap_region_becomes_a_page_box():
    page_height, page_width = 2048, 1024  # thumbnail scale 0.25, page centred horizontally
    heatmap = np.zeros((HEATMAP_SIZE, HEATMAP_SIZE), dtype=np.float32)
    heatmap[100:110, 50:80] = 0.9  # thumbnail x 200..320, y 400..440
    finding = read_heatmap(heatmap, page_height, page_width)
    assert finding.present and finding.score == pytest.approx(0.9)
    offset_x = (512 - page_width * 0.25) / 2
    expected = [(200 - offset_x) / 0.25, 400 / 0.25, (320 - offset_x) / 0.25, 440 / 0.25]
    np.testing.assert_allclose(finding.box, expected, atol=4 / 0.25)


def test_box_of_a_skewed_signature_includes_its_faint_corners():
    """A skewed page's signature box bounds the rotated ink box, corners included."""
    corners = cv2.boxPoints(((256.0, 256.0), (120.0, 36.0), 12.0))  # thumbnail px
    fine = np.zeros((THUMBNAIL_SIZE, THUMBNAIL_SIZE), dtype=np.float32)
    cv2.fillPoly(fine, [np.round(corners * 16).astype(np.int32)], 1.0, shift=4)
    heatmap = cv2.resize(fine, (HEATMAP_SIZE, HEATMAP_SIZE), interpolation=cv2.INTER_AREA)
    finding = read_heatmap(heatmap, THUMBNAIL_SIZE, THUMBNAIL_SIZE)  # page = thumbnail
    expected = [*corners.min(axis=0), *corners.max(axis=0)]
    np.testing.assert_allclose(finding.box, expected, atol=3)


def test_weak_heatmap_means_no_signature():
    finding = read_heatmap(np.full((HEATMAP_SIZE, HEATMAP_SIZE), 0.2, np.float32), 1650, 1275)
    assert not finding.present and not finding.box.any()


def test_candidates_include_drawn_boxes_and_crops_have_the_model_shape():
    page = np.full((600, 600), 245, dtype=np.uint8)
    cv2.rectangle(page, (100, 100), (124, 124), 30, 2)
    cv2.rectangle(page, (300, 200), (320, 220), 30, 1)
    cv2.line(page, (303, 210), (317, 203), 20, 3)
    boxes = find_candidates(page)
    for expected in ([100, 100, 125, 125], [300, 200, 321, 221]):
        assert np.abs(boxes - expected).max(axis=1).min() <= 2
    assert crop_candidates(page, boxes).shape == (len(boxes), 1, CROP_SIZE, CROP_SIZE)
    assert find_candidates(np.full((600, 600), 245, dtype=np.uint8)).shape == (0, 4)


def test_decide_keeps_checkboxes_with_their_state():
    boxes = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], dtype=np.float32)
    probabilities = np.eye(len(STATE_LABELS), dtype=np.float32)[[0, 2, 1]] * 0.8 + 0.2 / 3
    decision = decide(boxes, probabilities)
    np.testing.assert_array_equal(decision.boxes, boxes[1:])
    assert decision.checked.tolist() == [True, False]
    assert decide(boxes[:0], probabilities[:0]).boxes.shape == (0, 4)


def test_decide_refuses_boxes_and_probabilities_that_do_not_pair_up():
    boxes = np.zeros((3, 4), dtype=np.float32)
    with pytest.raises(StepInputError, match="3 candidate boxes but 2 state probability rows"):
        decide(boxes, np.zeros((2, len(STATE_LABELS)), dtype=np.float32))
