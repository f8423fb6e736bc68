"""CTC greedy decoding, line crops and recognition batches on hand-made inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from docserve.processing.text_recognition import (
    LINE_HEIGHT,
    MIN_LINE_WIDTH,
    crop_line,
    ctc_greedy_decode,
    load_characters,
    recognition_batches,
)

CHARACTERS = ["", "a", "b", "c", " "]  # blank, the character set file's lines, space
A, B, C, SPACE, BLANK = 1, 2, 3, 4, 0


def decode(ids: list[list[int]], probabilities: list[list[float]]):
    return ctc_greedy_decode(np.array(ids), np.array(probabilities, np.float32), CHARACTERS)


def test_repeats_collapse_and_blanks_separate_characters() -> None:
    (line,) = decode([[A, A, BLANK, A, B, B, SPACE, C, BLANK]], [[0.9] * 9])
    assert line.text == "aab c"


def test_confidence_is_the_mean_probability_of_the_kept_steps() -> None:
    (line,) = decode([[A, A, BLANK, B]], [[0.8, 0.1, 0.99, 0.6]])
    # kept: the first A (0.8) and B (0.6); the repeated A and the blank do not count
    assert line.text == "ab"
    assert line.confidence == pytest.approx(0.7)


def test_an_all_blank_line_is_empty_with_zero_confidence() -> None:
    (line,) = decode([[BLANK, BLANK, BLANK]], [[0.99, 0.99, 0.99]])
    assert line.text == "" and line.confidence == 0.0


def test_each_line_of_a_batch_is_decoded_on_its_own() -> None:
    lines = decode([[C, BLANK, A], [B, B, B]], [[0.9, 0.9, 0.9], [0.5, 0.5, 0.5]])
    assert [line.text for line in lines] == ["ca", "b"]
    assert [line.confidence for line in lines] == pytest.approx([0.9, 0.5])


def test_characters_are_blank_then_the_file_then_space(tmp_path: Path) -> None:
    path = tmp_path / "characters.txt"
    path.write_text("a\nb\nc", encoding="utf-8")
    assert load_characters(path) == CHARACTERS
    path.write_text("a\nb\nc\n", encoding="utf-8")  # a trailing newline is no extra character
    assert load_characters(path) == CHARACTERS


def test_crop_line_rectifies_a_quadrilateral_to_an_upright_strip() -> None:
    page = np.zeros((100, 200, 3), dtype=np.uint8)
    page[40:60, 20:180] = 255
    crop = crop_line(page, np.array([[20, 40], [180, 40], [180, 60], [20, 60]], np.float32))
    assert crop.shape == (20, 160, 3)
    assert crop[2:-2, 2:-2].min() == 255


def test_crop_line_turns_vertical_text_to_read_horizontally() -> None:
    page = np.zeros((200, 100, 3), dtype=np.uint8)
    crop = crop_line(page, np.array([[40, 20], [60, 20], [60, 180], [40, 180]], np.float32))
    assert crop.shape[:2] == (20, 160)


def test_batches_group_similar_widths_and_cover_every_crop_once() -> None:
    widths = [500, 60, 1000, 80, 510, 70]
    crops = [np.full((24, width, 3), 128, np.uint8) for width in widths]
    batches = list(recognition_batches(crops, batch_size=2))
    assert sorted(int(i) for indices, _ in batches for i in indices) == list(range(6))
    assert [sorted(int(i) for i in indices) for indices, _ in batches] == [[1, 5], [0, 3], [2, 4]]
    for indices, images in batches:
        assert images.shape[:3] == (len(indices), 3, LINE_HEIGHT)
        assert images.shape[3] == max(MIN_LINE_WIDTH, 2 * max(widths[i] for i in indices))


def test_narrow_crops_are_padded_with_zeros_to_the_minimum_width() -> None:
    crops = [np.full((24, 60, 3), 255, np.uint8)]
    ((_, images),) = recognition_batches(crops, batch_size=6)
    assert images.shape == (1, 3, LINE_HEIGHT, MIN_LINE_WIDTH)
    assert images[0, :, :, :120].min() == pytest.approx(1.0)  # white, normalized to 1
    assert np.all(images[0, :, :, 120:] == 0.0)
