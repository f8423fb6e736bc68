"""The end-to-end pair rule: a predicted key -> value pair matches an annotated question -> answer
link when both texts agree after normalization (case, whitespace, punctuation at either end, so a
trailing colon too) with similarity ``1 - edit distance / longer length >= 0.8``; one to one.

OCR reads texts slightly wrong and the model's entity may differ from the annotated one by a word,
so exact matching would measure the OCR more than the pairing; 0.8 forgives about one character
in five. The one-to-one assignment is greedy, best pairs first (the smaller of the two
similarities ranks a candidate), which is what a maximum matching gives in all but contrived cases.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass

from docserve.export.text_accuracy import edit_distance

MIN_SIMILARITY = 0.8
_ENDS = string.punctuation + " "


def normalize(text: str) -> str:
    """Lower case, single spaces, no punctuation at either end (``"Date :"`` -> ``"date"``)."""
    return " ".join(text.lower().split()).strip(_ENDS)


def similarity(first: str, second: str) -> float:
    """``1 - edit distance / longer length`` of the normalized texts (two empty texts: 1)."""
    first, second = normalize(first), normalize(second)
    longer = max(len(first), len(second))
    return 1.0 if longer == 0 else 1.0 - edit_distance(first, second) / longer


@dataclass(frozen=True)
class PairMatch:
    predicted: int
    expected: int
    similarity: float


def match_pairs(predicted: Sequence[tuple[str, str]], expected: Sequence[tuple[str, str]],
                threshold: float = MIN_SIMILARITY) -> list[PairMatch]:
    """One-to-one matches between predicted and expected ``(key, value)`` texts."""
    candidates = []
    for i, (key, value) in enumerate(predicted):
        for j, (true_key, true_value) in enumerate(expected):
            score = min(similarity(key, true_key), similarity(value, true_value))
            if score >= threshold:
                candidates.append(PairMatch(i, j, score))
    used_predicted, used_expected, matches = set(), set(), []
    for candidate in sorted(candidates, key=lambda m: (-m.similarity, m.predicted, m.expected)):
        if candidate.predicted not in used_predicted and candidate.expected not in used_expected:
            used_predicted.add(candidate.predicted)
            used_expected.add(candidate.expected)
            matches.append(candidate)
    return matches
