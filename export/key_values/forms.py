"""Forms in FUNSD's format (``annotations/<id>.json`` + ``images/<id>.png``) as model examples.

FUNSD's labels map onto the served ones: question -> key, answer -> value, header, other. The
training targets follow from the annotation: each word's label, its predecessor within its entity
(the entity's previous word, or none for the first), and the question -> answer links (FUNSD also
links headers to questions; those are not key -> value links and are left out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
from PIL import Image

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.processing.key_values import KEY, LABELS, VALUE, KvWord, featurize

FUNSD_LABELS = {"question": KEY, "answer": VALUE, "header": LABELS.index("header"),
                "other": LABELS.index("other")}
# Beside the checkout, like ``docserve export classifier``'s real pages.
DEFAULT_FORMS = PROJECT_ROOT.parent / "shared" / "data" / "form_fields" / "funsd_train"


@dataclass(frozen=True)
class Form:
    """One annotated page: its words and the ground truth over them."""

    name: str
    image: Path
    width: int
    height: int
    words: list[KvWord]
    entities: list[tuple[int, ...]]  # word indices, in the annotation's order
    entity_labels: list[int]
    entity_texts: list[str]  # as annotated (the end-to-end protocol matches OCR text against them)
    links: list[tuple[int, int]]  # (key entity, value entity)

    def word_labels(self) -> np.ndarray:
        labels = np.zeros(len(self.words), dtype=np.int64)
        for words, label in zip(self.entities, self.entity_labels, strict=True):
            labels[list(words)] = label
        return labels

    def predecessors(self) -> np.ndarray:
        """Per word: the previous word of its entity, or ``len(words)`` (none) for the first."""
        targets = np.full(len(self.words), len(self.words), dtype=np.int64)
        for words in self.entities:
            for previous, word in pairwise(words):
                targets[word] = previous
        return targets

    def link_matrix(self) -> np.ndarray:
        """``[words, words]`` 1 where the row word's entity is the key of the column word's."""
        matrix = np.zeros((len(self.words), len(self.words)), dtype=np.float32)
        for key, value in self.links:
            matrix[np.ix_(self.entities[key], self.entities[value])] = 1.0
        return matrix

    def inputs(self) -> dict[str, np.ndarray]:
        return featurize(self.words, self.width, self.height)


def _polygon(box: list[float]) -> list[list[float]]:
    x0, y0, x1, y1 = box
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def read_form(annotation: Path, image: Path) -> Form:
    """One FUNSD annotation; entities without words are dropped, links named by entity position."""
    items = [item for item in json.loads(annotation.read_text(encoding="utf-8"))["form"] if item["words"]]
    with Image.open(image) as picture:
        width, height = picture.size
    words: list[KvWord] = []
    entities, labels, texts, position = [], [], [], {}
    for item in items:
        start = len(words)
        words += [KvWord(word["text"], _polygon(word["box"])) for word in item["words"]]
        position[item["id"]] = len(entities)
        entities.append(tuple(range(start, len(words))))
        labels.append(FUNSD_LABELS[item["label"]])
        texts.append(item["text"])
    links = set()
    for item in items:
        for first, second in item["linking"]:
            if first not in position or second not in position:
                continue
            pair = (position[first], position[second])
            if (labels[pair[0]], labels[pair[1]]) == (VALUE, KEY):
                pair = pair[::-1]
            if (labels[pair[0]], labels[pair[1]]) == (KEY, VALUE):
                links.add(pair)
    return Form(annotation.stem, image, width, height, words, entities, labels, texts, sorted(links))


def read_forms(folder: Path) -> list[Form]:
    """Every form of a FUNSD-format folder, sorted by name (stable splits)."""
    annotations = sorted((folder / "annotations").glob("*.json"))
    if not annotations:
        raise FileNotFoundError(f"no annotations/*.json under {folder}")
    return [read_form(path, folder / "images" / f"{path.stem}.png") for path in annotations]


def split_by_document(forms: list[Form], held_out: int, seed: int) -> tuple[list[Form], list[Form]]:
    """(training, held-out): ``held_out`` whole forms drawn with ``seed``."""
    order = np.random.default_rng(seed).permutation(len(forms))
    chosen = set(order[:held_out].tolist())
    return ([form for i, form in enumerate(forms) if i not in chosen],
            [form for i, form in enumerate(forms) if i in chosen])
