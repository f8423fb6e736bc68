"""CER and word accuracy against hand-computed values."""

from __future__ import annotations

import pytest

from docserve.export.text_accuracy import character_error_rate, edit_distance, word_accuracy


@pytest.mark.parametrize(
    ("reference", "hypothesis", "distance"),
    [
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("", "abc", 3),
        ("abc", "", 3),
        ("ab", "ab", 0),
    ],
)
def test_edit_distance(reference: str, hypothesis: str, distance: int) -> None:
    assert edit_distance(reference, hypothesis) == distance


def test_cer_ignores_layout_whitespace() -> None:
    assert character_error_rate("pay the\ninvoice", "pay  the invoice\n") == 0.0
    assert character_error_rate("invoice", "lnvoice") == pytest.approx(1 / 7)


def test_word_accuracy_counts_word_edits() -> None:
    assert word_accuracy("pay the invoice now", "pay tbe invoice now") == pytest.approx(0.75)
    assert word_accuracy("a b", "x y z w v") == 0.0
