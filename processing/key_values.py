"""The key -> value model's contract: a page's words in, entities and key -> value links out.

The model (``model_repository/key_values``, trained by ``docserve export key-values``) reads one
page's words: :func:`featurize` turns each word into hashed character n-grams (its text) and a
row of layout and shape features (its box on the page, normalized by the page size, its
confidence); the model answers per word a label (key / value / header / other), which word
precedes it in the same entity, and a score for every ordered word pair "the entity of word i is
the key of the entity of word j". :func:`decode` groups the words into entities along the
predecessor links, labels each entity by its words' mean label probabilities, scores entity
pairs by their words' highest link probability, and gives each value its best key; every key comes
out, those without a value with ``value=None`` (an empty field is information).

numpy only: this runs in Triton's python step and in the in-process reference alike. Training
(``export/key_values``) featurizes with these very functions; changing a constant here means
retraining the model. The config of ``model_repository/key_values`` restates the tensor names and
the feature widths; a test ties them.
"""

from __future__ import annotations

import string
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LABELS: tuple[str, ...] = ("key", "value", "header", "other")
KEY, VALUE, HEADER, OTHER = range(len(LABELS))

HASH_BUCKETS = 8192  # n-gram ids live in 1..HASH_BUCKETS-1; 0 pads
NGRAMS_PER_WORD = 32
NGRAM_SIZES = (1, 2, 3, 4)
GEOMETRY_FEATURES = 8  # x0, y0, x1, y1, centre x, centre y, width, height (page fractions, box first)
SHAPE_FEATURES = 12
WORD_FEATURES = GEOMETRY_FEATURES + SHAPE_FEATURES

NGRAMS_TENSOR = "word_ngram_ids"  # int64 [words, NGRAMS_PER_WORD]
FEATURES_TENSOR = "word_features"  # float32 [words, WORD_FEATURES]
LABEL_TENSOR = "word_label_logits"  # float32 [words, len(LABELS)]
PREDECESSOR_TENSOR = "word_predecessor_logits"  # float32 [words, words + 1], last column: none
LINK_TENSOR = "word_link_logits"  # float32 [words, words]: row's entity is the key of column's
OUTPUT_TENSORS = (LABEL_TENSOR, PREDECESSOR_TENSOR, LINK_TENSOR)  # what decode reads

# A value's best key below it: the value stays unpaired. Chosen on the training forms, where
# linking F1 rises as the threshold falls (0.838 at 0.5, 0.845 at 0.1, flat below): nearly every
# FUNSD answer has its question.
LINK_THRESHOLD = 0.1
_PUNCTUATION = set(string.punctuation)


@dataclass(frozen=True)
class KvWord:
    """One word read on the page: its text, polygon (``[[x, y], ...]`` page pixels) and confidence."""

    text: str
    polygon: Sequence[Sequence[float]]
    confidence: float = 1.0

    def box(self) -> tuple[float, float, float, float]:
        points = np.asarray(self.polygon, dtype=np.float64).reshape(-1, 2)
        return (float(points[:, 0].min()), float(points[:, 1].min()),
                float(points[:, 0].max()), float(points[:, 1].max()))


@dataclass(frozen=True)
class Entity:
    """Words read as one unit (a key, a value, a header or other text), in reading order."""

    label: str
    text: str
    polygon: list[list[float]]  # the words' bounding rectangle, clockwise from top-left
    confidence: float  # mean probability of the label over the words
    words: tuple[int, ...]  # indices into the page's words


@dataclass(frozen=True)
class KeyValue:
    """A key and its value (``None``: the field was left empty), with the link's probability."""

    key: Entity
    value: Entity | None
    confidence: float


@dataclass(frozen=True)
class PageKeyValues:
    entities: list[Entity]
    pairs: list[KeyValue]


# ---------------------------------------------------------------- featurization


def _ngram_id(gram: str) -> int:
    """A stable bucket (crc32, not ``hash``: the same in every process) in 1..HASH_BUCKETS-1."""
    return 1 + zlib.crc32(gram.encode("utf-8")) % (HASH_BUCKETS - 1)


def word_ngrams(text: str) -> list[int]:
    """Ids of the word's digit shape (the whole word, digits as 0) and its boundary-marked
    1..4-grams. No id of the exact word: with it the model memorized the training forms' words
    (held-out labelling F1 0.595 with it, 0.617 without, one seed each)."""
    lowered = text.strip().lower()
    shape = "".join("0" if c.isdigit() else c for c in lowered)
    marked = f"<{shape}>"
    grams = [f"s:{shape}"]
    grams += [marked[i:i + n] for n in NGRAM_SIZES for i in range(len(marked) - n + 1)]
    return [_ngram_id(gram) for gram in dict.fromkeys(grams)][:NGRAMS_PER_WORD]


def _shape(text: str, confidence: float) -> list[float]:
    """Cues the n-grams miss or dilute: a trailing colon marks keys, digits mark values."""
    stripped = text.strip()
    letters = [c for c in stripped if c.isalpha()]
    count = max(len(stripped), 1)
    return [
        min(len(stripped), 30) / 10.0,
        sum(c.isdigit() for c in stripped) / count,
        len(letters) / count,
        (sum(c.isupper() for c in letters) / len(letters)) if letters else 0.0,
        float(bool(stripped) and stripped[0].isupper()),
        float(stripped.endswith(":")),
        float(":" in stripped),
        float(not stripped),
        float(bool(stripped) and all(c in _PUNCTUATION for c in stripped)),
        float(stripped.endswith(".")),
        float(stripped[:1] in "([" if stripped else 0.0),
        float(confidence),
    ]


def _geometry(box: tuple[float, float, float, float], width: float, height: float) -> list[float]:
    x0, y0, x1, y1 = box
    x0, x1 = x0 / width, x1 / width
    y0, y1 = y0 / height, y1 / height
    return [x0, y0, x1, y1, (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]


def featurize(words: Sequence[KvWord], width: float, height: float) -> dict[str, np.ndarray]:
    """The model's two input tensors for one page (``width`` x ``height`` pixels)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"page size must be positive, got {width} x {height}")
    ngrams = np.zeros((len(words), NGRAMS_PER_WORD), dtype=np.int64)
    features = np.zeros((len(words), WORD_FEATURES), dtype=np.float32)
    for row, word in enumerate(words):
        ids = word_ngrams(word.text)
        ngrams[row, :len(ids)] = ids
        features[row] = _geometry(word.box(), width, height) + _shape(word.text, word.confidence)
    return {NGRAMS_TENSOR: ngrams, FEATURES_TENSOR: features}


# ---------------------------------------------------------------- decoding


def reading_order(words: Sequence[KvWord]) -> list[int]:
    """Word indices top to bottom, left to right: a word joins a line when it overlaps the
    line's vertical span by half its own height."""
    boxes = [word.box() for word in words]
    lines: list[list[int]] = []
    spans: list[tuple[float, float]] = []
    for index in sorted(range(len(words)), key=lambda i: (boxes[i][1] + boxes[i][3]) / 2):
        _, y0, _, y1 = boxes[index]
        centre = (y0 + y1) / 2
        for line, (top, bottom) in zip(lines, spans, strict=True):
            if top <= centre <= bottom:
                line.append(index)
                break
        else:
            lines.append([index])
            spans.append((y0, y1))
    return [i for line in lines for i in sorted(line, key=lambda i: boxes[i][0])]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def group_words(predecessor_logits: np.ndarray) -> list[list[int]]:
    """Entities as connected words: each word joins the word it names as predecessor, unless
    "none" (the last column) wins."""
    count = predecessor_logits.shape[0]
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    logits = predecessor_logits.copy()
    logits[np.arange(count), np.arange(count)] = -np.inf
    for word, choice in enumerate(np.argmax(logits, axis=1)):
        if choice < count:
            parent[root(word)] = root(int(choice))
    groups: dict[int, list[int]] = {}
    for word in range(count):
        groups.setdefault(root(word), []).append(word)
    return list(groups.values())


def _entity(words: Sequence[KvWord], members: list[int], order: dict[int, int],
            probabilities: np.ndarray, label: int | None = None) -> Entity:
    members = sorted(members, key=order.__getitem__)
    mean = probabilities[members].mean(axis=0)
    label = int(np.argmax(mean)) if label is None else label
    boxes = np.array([words[i].box() for i in members])
    x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
    x1, y1 = boxes[:, 2].max(), boxes[:, 3].max()
    return Entity(
        label=LABELS[label],
        text=" ".join(words[i].text for i in members if words[i].text),
        polygon=[[float(x0), float(y0)], [float(x1), float(y0)], [float(x1), float(y1)],
                 [float(x0), float(y1)]],
        confidence=float(mean[label]),
        words=tuple(members),
    )


def entity_link_probabilities(link_logits: np.ndarray, entities: Sequence[Sequence[int]]) -> np.ndarray:
    """``[entities, entities]``: the highest word-pair link probability, row entity -> column entity.

    The highest, not the mean: the model is surest about the words that carry the link (the key's
    last word, the value's first), and a long value's mean drowns them (measured: linking F1 0.67
    with the highest, 0.55 with the mean, on held-out forms).
    """
    probabilities = _sigmoid(link_logits.astype(np.float64))
    if not entities:
        return np.zeros((0, 0))
    rows = np.stack([probabilities[list(words)].max(axis=0) for words in entities])
    return np.stack([rows[:, list(words)].max(axis=1) for words in entities], axis=1)


def link_entities(probabilities: np.ndarray, keys: Sequence[int], values: Sequence[int],
                  threshold: float = LINK_THRESHOLD) -> list[tuple[int, int, float]]:
    """Each value to its most probable key, when that probability passes ``threshold``."""
    links = []
    for value in values:
        if not keys:
            break
        scores = probabilities[list(keys), value]
        best = int(np.argmax(scores))
        if scores[best] >= threshold:
            links.append((keys[best], value, float(scores[best])))
    return links


def decode(words: Sequence[KvWord], outputs: dict[str, np.ndarray]) -> PageKeyValues:
    """Entities and key -> value pairs of one page from the model's three outputs."""
    if not words:
        return PageKeyValues(entities=[], pairs=[])
    order = {word: rank for rank, word in enumerate(reading_order(words))}
    probabilities = _softmax(outputs[LABEL_TENSOR].astype(np.float64))
    groups = group_words(outputs[PREDECESSOR_TENSOR])
    entities = sorted((_entity(words, group, order, probabilities) for group in groups),
                      key=lambda entity: order[entity.words[0]])
    return PageKeyValues(entities=entities, pairs=pair_entities(entities, outputs[LINK_TENSOR]))


def pair_entities(entities: Sequence[Entity], link_logits: np.ndarray) -> list[KeyValue]:
    """Every key with its linked value(s), or alone with ``value=None``, in reading order."""
    keys = [i for i, entity in enumerate(entities) if entity.label == LABELS[KEY]]
    values = [i for i, entity in enumerate(entities) if entity.label == LABELS[VALUE]]
    probabilities = entity_link_probabilities(link_logits, [entity.words for entity in entities])
    linked: dict[int, list[tuple[int, float]]] = {}
    for key, value, score in link_entities(probabilities, keys, values):
        linked.setdefault(key, []).append((value, score))
    pairs = []
    for key in keys:
        if key in linked:
            pairs += [KeyValue(entities[key], entities[value], score) for value, score in linked[key]]
        else:
            unlinked = 1.0 - float(probabilities[key, values].max()) if values else 1.0
            pairs.append(KeyValue(entities[key], None, unlinked))
    return pairs
