"""The key -> value model's featurization and decoding (docserve.processing.key_values)."""

from __future__ import annotations

import numpy as np
import pytest

from docserve.processing.key_values import (
    FEATURES_TENSOR,
    HASH_BUCKETS,
    LABEL_TENSOR,
    LABELS,
    LINK_TENSOR,
    NGRAMS_PER_WORD,
    NGRAMS_TENSOR,
    PREDECESSOR_TENSOR,
    WORD_FEATURES,
    KvWord,
    decode,
    featurize,
    group_words,
    reading_order,
    word_ngrams,
)


def word(text: str, x0: float, y0: float, x1: float, y1: float, confidence: float = 0.9) -> KvWord:
    return KvWord(text, [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], confidence)


# "Name: Jane Smith" on one line, "Date:" left empty below it.
PAGE = [word("Name:", 10, 10, 60, 30), word("Jane", 70, 10, 110, 30), word("Smith", 115, 10, 160, 30),
        word("Date:", 10, 50, 55, 70)]


def test_featurize_shapes_ranges_and_cues():
    inputs = featurize(PAGE, width=200, height=100)
    ngrams, features = inputs[NGRAMS_TENSOR], inputs[FEATURES_TENSOR]
    assert ngrams.shape == (4, NGRAMS_PER_WORD) and ngrams.dtype == np.int64
    assert features.shape == (4, WORD_FEATURES) and features.dtype == np.float32
    assert ngrams.min() >= 0 and ngrams.max() < HASH_BUCKETS
    np.testing.assert_allclose(features[0, :4], [0.05, 0.1, 0.3, 0.3], rtol=1e-6)  # box as page fractions
    trailing_colon = WORD_FEATURES - 7
    assert features[:, trailing_colon].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert features[0, -1] == pytest.approx(0.9)  # the OCR confidence


def test_ngram_ids_are_stable_across_processes_and_share_digit_shapes():
    # crc32, not Python's salted hash: a served page featurizes as the training pages did.
    assert word_ngrams("Date:") == word_ngrams("Date:")
    assert word_ngrams("Date:")[0] == 1 + 2270950964 % (HASH_BUCKETS - 1)  # zlib.crc32(b"s:date:")
    assert word_ngrams("5/12/96")[0] == word_ngrams("7/30/84")[0]  # the same digit shape
    assert 0 not in word_ngrams("x")


def test_featurize_refuses_an_empty_page_size():
    with pytest.raises(ValueError, match="page size"):
        featurize(PAGE, width=0, height=100)


def test_featurize_no_words_gives_empty_tensors():
    inputs = featurize([], width=200, height=100)
    assert inputs[NGRAMS_TENSOR].shape == (0, NGRAMS_PER_WORD)
    assert inputs[FEATURES_TENSOR].shape == (0, WORD_FEATURES)


def test_reading_order_is_by_line_then_left_to_right():
    shuffled = [PAGE[3], PAGE[2], PAGE[0], PAGE[1]]
    assert [shuffled[i].text for i in reading_order(shuffled)] == ["Name:", "Jane", "Smith", "Date:"]


def _outputs(labels: list[int], predecessors: list[int], links: dict[tuple[int, int], float]) -> dict:
    count = len(labels)
    label_logits = np.full((count, len(LABELS)), -5.0, dtype=np.float32)
    label_logits[np.arange(count), labels] = 5.0
    predecessor_logits = np.full((count, count + 1), -5.0, dtype=np.float32)
    predecessor_logits[np.arange(count), predecessors] = 5.0
    link_logits = np.full((count, count), -5.0, dtype=np.float32)
    for (source, target), logit in links.items():
        link_logits[source, target] = logit
    return {LABEL_TENSOR: label_logits, PREDECESSOR_TENSOR: predecessor_logits, LINK_TENSOR: link_logits}


def test_group_words_follows_predecessors_and_none():
    none = 4
    logits = _outputs([0, 1, 1, 0], [none, none, 1, none], {})[PREDECESSOR_TENSOR]
    assert sorted(map(sorted, group_words(logits))) == [[0], [1, 2], [3]]


def test_group_words_never_makes_a_word_its_own_predecessor():
    logits = np.full((2, 3), -5.0, dtype=np.float32)
    logits[0, 0] = 9.0  # the diagonal is ignored, the next best is "none"
    logits[0, 2] = 1.0
    logits[1, 2] = 5.0
    assert sorted(map(sorted, group_words(logits))) == [[0], [1]]


def test_decode_pairs_a_key_with_its_value_and_keeps_an_empty_field():
    key, value = LABELS.index("key"), LABELS.index("value")
    none = len(PAGE)
    outputs = _outputs([key, value, value, key], [none, none, 1, none], {(0, 1): 4.0, (0, 2): 4.0})
    page = decode(PAGE, outputs)
    assert [(e.label, e.text) for e in page.entities] == [("key", "Name:"), ("value", "Jane Smith"),
                                                          ("key", "Date:")]
    name, date = page.pairs
    assert (name.key.text, name.value.text) == ("Name:", "Jane Smith")
    assert name.confidence == pytest.approx(1 / (1 + np.exp(-4.0)))
    assert name.value.polygon == [[70.0, 10.0], [160.0, 10.0], [160.0, 30.0], [70.0, 30.0]]
    assert (date.key.text, date.value) == ("Date:", None)


def test_decode_leaves_a_value_unpaired_below_the_threshold():
    key, value = LABELS.index("key"), LABELS.index("value")
    none = len(PAGE)
    outputs = _outputs([key, value, value, key], [none, none, 1, none], {(0, 1): -3.0, (0, 2): -3.0})
    assert [pair.value for pair in decode(PAGE, outputs).pairs] == [None, None]


def test_decode_of_no_words_is_empty():
    page = decode([], {})
    assert page.entities == [] and page.pairs == []
