"""The end-to-end protocol: from the page image through docserve's own OCR to key -> value pairs.

Each form's image goes through the in-process reference OCR (the functions Triton's OCR steps
run); its words go through :func:`featurize`, the model and :func:`decode`; the pairs with a value
are matched one to one against the annotated question -> answer links by their texts
(:mod:`matching`). Keys the model reports without a value are not pairs and do not count.

Words: until the OCR reports word polygons, :func:`provisional_words` splits each OCR line on
spaces and gives each word the share of the line's extent its characters take (proportional
spacing): provisional, and said so wherever its figure is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from docserve.export.key_values.evaluation import Counts, Predictor
from docserve.export.key_values.forms import Form
from docserve.export.key_values.matching import match_pairs
from docserve.processing.key_values import KvWord, decode, featurize
from docserve.processing.ocr_pipeline import OcrLine

Reader = Callable[[bytes], list[OcrLine]]


def provisional_words(lines: Sequence[OcrLine]) -> list[KvWord]:
    """Each line's space-separated words, placed along the line in proportion to their characters."""
    words = []
    for line in lines:
        polygon = np.asarray(line.polygon, dtype=np.float64)
        top_left, top_right, bottom_right, bottom_left = polygon
        length = max(len(line.text), 1)
        start = 0
        for token in line.text.split(" "):
            if token:
                a, b = start / length, (start + len(token)) / length
                words.append(KvWord(token, [
                    (top_left + (top_right - top_left) * a).tolist(),
                    (top_left + (top_right - top_left) * b).tolist(),
                    (bottom_left + (bottom_right - bottom_left) * b).tolist(),
                    (bottom_left + (bottom_right - bottom_left) * a).tolist(),
                ], line.confidence))
            start += len(token) + 1
    return words


@dataclass
class EndToEndScores:
    pairs: Counts = field(default_factory=Counts)
    forms: int = 0
    words: int = 0

    def table(self) -> str:
        return (f"end to end ({self.forms} forms, {self.words} OCR words): pair P {self.pairs.precision:.3f} "
                f"R {self.pairs.recall:.3f} F1 {self.pairs.f1:.3f} ({self.pairs.hits} of "
                f"{self.pairs.expected} annotated links, {self.pairs.predicted} predicted pairs)")


def expected_pairs(form: Form) -> list[tuple[str, str]]:
    """The form's question -> answer links as their annotated texts."""
    return [(form.entity_texts[key], form.entity_texts[value]) for key, value in form.links]


def score_end_to_end(form: Form, words: Sequence[KvWord], predictor: Predictor,
                     scores: EndToEndScores) -> list[tuple[str, str]]:
    """Add one form's outcome to ``scores``; return its predicted pairs (key, value texts)."""
    predicted: list[tuple[str, str]] = []
    if words:
        page = decode(words, predictor(featurize(words, form.width, form.height)))
        predicted = [(pair.key.text, pair.value.text) for pair in page.pairs if pair.value is not None]
    expected = expected_pairs(form)
    scores.pairs.hits += len(match_pairs(predicted, expected))
    scores.pairs.predicted += len(predicted)
    scores.pairs.expected += len(expected)
    scores.forms += 1
    scores.words += len(words)
    return predicted
