"""The page's fields: the key -> value model's pairs merged with the checkbox and signature pairs."""

from __future__ import annotations

import numpy as np

from docserve.processing.form_fields import UprightPage, page_key_values
from docserve.processing.key_values import (
    LABEL_TENSOR,
    LABELS,
    LINK_TENSOR,
    PREDECESSOR_TENSOR,
    KvWord,
)

H = 20


def word(text: str, x: float, y: float) -> KvWord:
    width = 10 * len(text)
    return KvWord(text, [[x, y], [x + width, y], [x + width, y + H], [x, y + H]], 0.9)


# "Marital status: [x] single"   and   "Name: John"
WORDS = [word("Marital", 50, 100), word("status:", 130, 100), word("single", 250, 100),
         word("Name:", 50, 200), word("John", 250, 200)]
ENTITY_LABELS = ["key", "key", "value", "key", "value"]
PREDECESSOR = {1: 0}  # "status:" continues "Marital"
LINKS = {(0, 2), (1, 2), (3, 4)}  # key word -> value word


def model(features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The outputs a trained model gives these words (confident logits)."""
    count = len(features["word_features"])
    labels = np.full((count, len(LABELS)), -8.0, np.float32)
    labels[np.arange(count), [LABELS.index(label) for label in ENTITY_LABELS]] = 8.0
    predecessor = np.full((count, count + 1), -8.0, np.float32)
    predecessor[:, count] = 8.0
    for word_index, before in PREDECESSOR.items():
        predecessor[word_index, before], predecessor[word_index, count] = 8.0, -8.0
    links = np.full((count, count), -8.0, np.float32)
    for key, value in LINKS:
        links[key, value] = 8.0
    return {LABEL_TENSOR: labels, PREDECESSOR_TENSOR: predecessor, LINK_TENSOR: links}


PAGE = UprightPage(height=600, width=800, skew_degrees=None)


def test_text_pairs_come_from_the_model():
    pairs = page_key_values(WORDS, PAGE, model, checkboxes=None, signature=None)
    assert [(pair.kind, pair.key.text, pair.value.text) for pair in pairs] == [
        ("text", "Marital status:", "single"), ("text", "Name:", "John")]


def test_a_checkbox_pair_replaces_the_text_pair_over_its_words():
    checkboxes = (np.array([[220, 100, 240, 120]], np.float32), np.array([True]),
                  np.array([0.97], np.float32))
    pairs = page_key_values(WORDS, PAGE, model, checkboxes, signature=None)
    assert [(pair.kind, pair.key.text, pair.value.text) for pair in pairs] == [
        ("checkbox", "Marital status:", "single"), ("text", "Name:", "John")]
    assert [(option.text, option.checked) for option in pairs[0].options] == [("single", True)]


def test_a_page_without_words_has_no_pairs_and_calls_no_model():
    def no_model(features):
        raise AssertionError("the model takes at least one word")

    assert page_key_values([], PAGE, no_model, None, (False, 0.1, np.zeros(4, np.float32))) == []


def test_the_signature_box_is_moved_onto_the_straightened_canvas():
    page = UprightPage(height=600, width=800, skew_degrees=3.0)
    box = page.to_canvas(np.array([100, 100, 200, 150], np.float32))
    width, height = page.canvas_size()
    assert width > 800 and height > 600
    assert box[0] < 100 + (width - 800) and box[2] - box[0] > 100
