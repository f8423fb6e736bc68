"""CTC greedy decoding, words, line crops and recognition batches on hand-made inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from docserve.processing.text_recognition import (
    LINE_HEIGHT,
    MIN_LINE_WIDTH,
    crop_line,
    ctc_greedy_decode,
    fit_to_ink,
    ink_mask,
    load_characters,
    recognition_batches,
    strip_polygon,
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


# --- words: the CTC steps say where each character sits --------------------------------------

WORD_CHARACTERS = ["", *"Dates:5/1296", " "]
WORD_SPACE = len(WORD_CHARACTERS) - 1


def read_at(placed: list[tuple[int, str]], steps: int, probability: float = 0.9):
    """Decode a line of ``steps`` steps with each character at its step (blanks elsewhere)."""
    ids = np.zeros((1, steps), dtype=np.int64)
    for step, character in placed:
        ids[0, step] = WORD_CHARACTERS.index(character)
    probabilities = np.full((1, steps), probability, dtype=np.float32)
    (line,) = ctc_greedy_decode(ids, probabilities, WORD_CHARACTERS)
    return line, probabilities[0]


def spaced(text: str, first_step: int = 0, pitch: int = 2) -> list[tuple[int, str]]:
    return [(first_step + pitch * index, character) for index, character in enumerate(text)]


def test_a_key_and_its_value_on_one_line_are_two_words_left_and_right() -> None:
    line, _ = read_at(spaced("Date: 5/12/96"), steps=26)
    assert line.text == "Date: 5/12/96"
    key, value = line.words
    assert (key.text, value.text) == ("Date:", "5/12/96")
    space_centre = (2 * 5 + 0.5) / 26  # the space is the 6th character, at step 10
    assert key.start == 0.0 and key.end == pytest.approx(space_centre)
    assert value.start == pytest.approx(space_centre) and value.end == 1.0


def test_a_wide_gap_ends_words_a_character_pitch_beyond_their_outer_characters() -> None:
    # "Da" at steps 0 and 2, a space at 10, "te" at 18 and 20: the gap is far wider than the pitch
    line, _ = read_at([(0, "D"), (2, "a"), (10, " "), (18, "t"), (20, "e")], steps=24)
    first, second = line.words
    assert first.end == pytest.approx((2.5 + 2) / 24)  # the centre of "a" plus one pitch
    assert second.start == pytest.approx((18.5 - 2) / 24)


def test_spaces_at_the_ends_are_no_words_and_bound_the_outer_words() -> None:
    line, _ = read_at(spaced("  Da te "), steps=16)
    assert [word.text for word in line.words] == ["Da", "te"]
    first, last = line.words
    assert first.start == pytest.approx((4.5 - 2) / 16)  # a pitch before "D", past the space at 2
    assert last.end == pytest.approx((12.5 + 2) / 16)  # a pitch after "e", before the space at 14
    assert 0 < first.start < first.end <= last.start < last.end < 1


def test_a_single_word_is_the_whole_line() -> None:
    line, _ = read_at(spaced("Dates", first_step=3), steps=20)
    (word,) = line.words
    assert (word.text, word.start, word.end) == ("Dates", 0.0, 1.0)


def test_a_word_is_as_confident_as_its_least_confident_character() -> None:
    ids = np.array([[1, 2, 0, WORD_SPACE, 3, 3, 4]])  # "Da" " " "te"; the second t is a repeat
    probabilities = np.array([[0.9, 0.8, 0.99, 0.7, 0.6, 0.1, 0.95]], dtype=np.float32)
    (line,) = ctc_greedy_decode(ids, probabilities, WORD_CHARACTERS)
    assert [(word.text, word.confidence) for word in line.words] == [
        ("Da", pytest.approx(0.8)), ("te", pytest.approx(0.6))]
    assert line.confidence == pytest.approx((0.9 + 0.8 + 0.7 + 0.6 + 0.95) / 5)  # unchanged


def test_words_are_fractions_of_the_strip_the_line_fills_not_of_its_padding() -> None:
    ids = np.zeros((1, 40), dtype=np.int64)
    for step, character in spaced("Da te"):
        ids[0, step] = WORD_CHARACTERS.index(character)
    (line,) = ctc_greedy_decode(ids, np.ones((1, 40), np.float32), WORD_CHARACTERS, line_steps=[10])
    assert line.words[0].end == pytest.approx(4.5 / 10) and line.words[1].end == 1.0


def test_a_blank_or_space_only_line_has_no_words() -> None:
    line, _ = read_at([(1, " "), (3, " ")], steps=6)
    assert line.text == "  " and line.words == ()
    line, _ = read_at([], steps=6)
    assert line.words == ()


def test_a_part_of_the_strip_maps_onto_the_line_box_along_its_baseline() -> None:
    # a line box 200 x 20 turned 30 degrees: its second half lies along the same baseline
    angle = np.radians(30)
    along, across = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
    origin = np.array([100.0, 50.0])
    box = np.array([origin, origin + 200 * along, origin + 200 * along + 20 * across,
                    origin + 20 * across], np.float32)
    np.testing.assert_allclose(strip_polygon(box, 0.0, 1.0), box, atol=1e-3)
    half = strip_polygon(box, 0.5, 1.0)
    np.testing.assert_allclose(half, [origin + 100 * along, origin + 200 * along,
                                      origin + 200 * along + 20 * across, origin + 100 * along + 20 * across],
                               atol=0.1)
    middle_band = strip_polygon(box, 0.0, 1.0, top=0.25, bottom=0.75)
    np.testing.assert_allclose(middle_band[0], origin + 5 * across, atol=0.1)


def test_a_part_of_a_vertical_strip_reads_down_the_box() -> None:
    # crop_line turns a tall box to read top to bottom: the first half of the strip is its top half
    box = np.array([[40, 20], [60, 20], [60, 180], [40, 180]], np.float32)
    top_half = strip_polygon(box, 0.0, 0.5)
    assert top_half[:, 1].min() == pytest.approx(20, abs=0.1)
    assert top_half[:, 1].max() == pytest.approx(100, abs=0.1)
    # clockwise from the word's own top-left, which (read top to bottom) is the box's top-right
    np.testing.assert_allclose(top_half, [[60, 20], [60, 100], [40, 100], [40, 20]], atol=0.1)


def test_a_word_is_trimmed_to_its_ink() -> None:
    strip = np.full((40, 200, 3), 255, np.uint8)
    strip[10:30, 20:60] = 0  # the first word's ink
    strip[5:35, 120:180] = 0  # the second's
    ink = ink_mask(strip)
    assert fit_to_ink(ink, 0.0, 0.45) == (20 / 200, 60 / 200, 10 / 40, 30 / 40)
    assert fit_to_ink(ink, 0.45, 1.0) == (120 / 200, 180 / 200, 5 / 40, 35 / 40)
    assert fit_to_ink(ink, 0.32, 0.5) == (0.32, 0.5, 0.0, 1.0)  # no ink: the part as it was
    assert np.array_equal(ink_mask(255 - strip), ink)  # light text on a dark ground
