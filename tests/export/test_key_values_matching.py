"""The end-to-end pair rule (normalized texts, similarity >= 0.8, one to one) and provisional words."""

from __future__ import annotations

import numpy as np
import pytest

from docserve.export.key_values.end_to_end import provisional_words
from docserve.export.key_values.matching import match_pairs, normalize, similarity
from docserve.processing.ocr_pipeline import OcrLine


@pytest.mark.parametrize(("text", "expected"), [
    ("Date:", "date"), ("  DATE :  ", "date"), ("(Signature)", "signature"),
    ("Name of  the\nfirm:", "name of the firm"), ("5/12/96.", "5/12/96"), ("...", ""),
])
def test_normalize_case_whitespace_and_punctuation_at_the_ends(text, expected):
    assert normalize(text) == expected


def test_similarity_is_one_minus_edit_distance_over_the_longer_text():
    assert similarity("Name:", "NAME") == 1.0
    assert similarity("abcde", "abcdx") == pytest.approx(0.8)
    assert similarity("abcde", "abxyz") == pytest.approx(0.4)
    assert similarity("", ":") == 1.0


def test_a_pair_matches_when_both_texts_pass_the_threshold():
    expected = [("Date:", "5/12/96")]
    assert len(match_pairs([("DATE", "5/12/96")], expected)) == 1
    assert len(match_pairs([("Date", "5/12/9")], expected)) == 1  # 6 of 7 characters: 0.857
    assert match_pairs([("Date", "5/1")], expected) == []  # the value differs too much
    assert match_pairs([("To:", "5/12/96")], expected) == []  # the key differs


def test_matching_is_one_to_one_best_first():
    expected = [("Name", "Jane Smith"), ("Name", "Jane Smyth")]
    predicted = [("Name:", "Jane Smyth"), ("Name:", "Jane Smyth"), ("Name:", "Jane Smyth")]
    matches = match_pairs(predicted, expected)
    assert sorted((m.predicted, m.expected) for m in matches) == [(0, 1), (1, 0)]  # exact one first


def test_provisional_words_split_a_line_by_its_characters():
    line = OcrLine("Date: 5/12/96", 0.9, np.array([[0, 0], [130, 0], [130, 10], [0, 10]], dtype=np.float32))
    date, value = provisional_words([line])
    assert (date.text, value.text) == ("Date:", "5/12/96")
    assert date.box() == pytest.approx((0, 0, 50, 10))
    assert value.box() == pytest.approx((60, 0, 130, 10))
    assert value.confidence == pytest.approx(0.9)
