"""How well OCR read a page: character error rate and word accuracy against the known text.

Both compare whitespace-normalized text (runs of spaces and line breaks count as one space):
layout is the detector's business, reading is what these measure. Both use Levenshtein
distance, so a missing, extra or wrong character (or word) costs one edit.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def edit_distance(reference: Sequence[Hashable], hypothesis: Sequence[Hashable]) -> int:
    """Levenshtein distance, one numpy row per reference item (pages have ~2,000 characters)."""
    vocabulary: dict[Hashable, int] = {}
    ref = np.array([vocabulary.setdefault(item, len(vocabulary)) for item in reference])
    hyp = np.array([vocabulary.setdefault(item, len(vocabulary)) for item in hypothesis])
    positions = np.arange(len(hyp) + 1)
    previous = positions.copy()
    for row, item in enumerate(ref, start=1):
        substitute = previous[:-1] + (hyp != item)
        best = np.minimum(previous[1:] + 1, substitute)  # delete or substitute
        current = np.concatenate([[row], best])
        # insertions: current[j] = min_k<=j (current[k] + j - k), a running minimum
        current = np.minimum.accumulate(current - positions) + positions
        previous = current
    return int(previous[-1])


def normalize_whitespace(text: str) -> str:
    return " ".join(text.split())


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Character edits needed to turn the OCR text into the reference, per reference character."""
    reference, hypothesis = normalize_whitespace(reference), normalize_whitespace(hypothesis)
    return edit_distance(reference, hypothesis) / max(1, len(reference))


def word_accuracy(reference: str, hypothesis: str) -> float:
    """1 - word error rate, floored at 0: the share of reference words read right."""
    reference_words, hypothesis_words = reference.split(), hypothesis.split()
    errors = edit_distance(reference_words, hypothesis_words)
    return max(0.0, 1.0 - errors / max(1, len(reference_words)))
