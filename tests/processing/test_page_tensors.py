"""page_result's input tensors -> PageOutputs: absent inputs are absent parts, garbled ones the
caller's error (INVALID_ARG in Triton), timings from the ``<step>_ms`` inputs sent."""

from __future__ import annotations

import numpy as np
import pytest

from docserve.contract.document_types import DOCUMENT_TYPES
from docserve.processing.page_tensors import read_page_outputs, read_timings
from docserve.processing.step_errors import StepInputError


def _labels(outputs: int | None) -> tuple[str, ...]:
    return DOCUMENT_TYPES


def _text_tensors(skipped_json: bytes) -> dict[str, np.ndarray]:
    return {"page_size": np.array([600, 400], dtype=np.int32),
            "line_texts": np.array([], dtype=np.object_),
            "line_confidences": np.zeros(0, dtype=np.float32),
            "line_polygons": np.zeros((0, 4, 2), dtype=np.float32),
            "text_skipped_json": np.array([skipped_json], dtype=np.object_)}


def test_a_pipeline_sends_only_what_it_computed() -> None:
    outputs = read_page_outputs({"page_size": np.array([600, 400], dtype=np.int32)}.get, _labels)
    assert (outputs.page_height, outputs.page_width) == (600, 400)
    assert outputs.text is None and outputs.orientation is None and outputs.signature is None


def test_a_skip_note_is_read_back() -> None:
    note = b'{"reason": "unexpected document type", "document_type": "letter", ' \
           b'"expected_document_types": ["invoice"]}'
    outputs = read_page_outputs(_text_tensors(note).get, _labels)
    assert outputs.text.skipped.document_type == "letter"


def test_a_garbled_skip_note_is_the_callers_error() -> None:
    with pytest.raises(StepInputError, match="SkippedStep"):
        read_page_outputs(_text_tensors(b"{not json").get, _labels)


def test_timings_are_the_ms_inputs_sent() -> None:
    tensors = {"decode_ms": np.array([12.5], dtype=np.float32)}
    assert read_timings(tensors.get, ["page_size", "decode_ms", "thumbnail_ms"]) == {"decode": 12.5}


def _word_tensors(counts: list[int], words: int) -> dict[str, np.ndarray]:
    return {"word_texts": np.array([b"w"] * words, dtype=np.object_),
            "word_confidences": np.full(words, 0.9, dtype=np.float32),
            "word_polygons": np.zeros((words, 4, 2), dtype=np.float32),
            "line_word_counts": np.array(counts, dtype=np.int32)}


def _two_lines() -> dict[str, np.ndarray]:
    return {**_text_tensors(b""), "line_texts": np.array([b"a b", b"c"], dtype=np.object_),
            "line_confidences": np.full(2, 0.9, dtype=np.float32),
            "line_polygons": np.zeros((2, 4, 2), dtype=np.float32)}


def test_words_are_read_with_the_lines_that_own_them() -> None:
    outputs = read_page_outputs({**_two_lines(), **_word_tensors([2, 1], 3)}.get, _labels)
    assert outputs.text.words.texts == ["w", "w", "w"]
    assert outputs.text.words.line_word_counts.tolist() == [2, 1]
    assert read_page_outputs(_two_lines().get, _labels).text.words is None  # no word tensors sent


@pytest.mark.parametrize(("counts", "words", "message"), [
    ([2, 2], 3, "do not share 3 words among 2 lines"),
    ([3], 3, "do not share 3 words among 2 lines"),
    ([4, -1], 3, "do not share 3 words among 2 lines"),
])
def test_words_that_do_not_add_up_to_the_lines_are_the_callers_error(counts, words, message) -> None:
    with pytest.raises(StepInputError, match=message):
        read_page_outputs({**_two_lines(), **_word_tensors(counts, words)}.get, _labels)


def test_words_come_with_all_their_tensors_or_none() -> None:
    tensors = {**_two_lines(), **_word_tensors([2, 1], 3)}
    del tensors["line_word_counts"]
    with pytest.raises(StepInputError, match="words without line_word_counts"):
        read_page_outputs(tensors.get, _labels)
    tensors = {**_two_lines(), **_word_tensors([2, 1], 3), "word_confidences": np.ones(2, np.float32)}
    with pytest.raises(StepInputError, match="3 word texts, 2 confidences"):
        read_page_outputs(tensors.get, _labels)
