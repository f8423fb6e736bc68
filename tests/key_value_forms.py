"""Generated forms in the key -> value model's ground-truth form, and written in FUNSD's format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from docserve.export.key_values.forms import Form
from docserve.processing.key_values import KEY, LABELS, VALUE, KvWord

KEYS = ("Name:", "Date:", "Phone:", "City", "Total:", "Fax")
VALUES = ("Jane Smith", "5/12/96", "555-0134", "Richmond", "$12.40", "")


def generated_form(seed: int) -> Form:
    """Keys down the page, each value right of its key (the last key left empty), a header on top."""
    rng = np.random.default_rng(seed)
    words, entities, labels, texts, links = [], [], [], [], []

    def add(text: str, x: float, y: float, label: int) -> int:
        start = len(words)
        for token in text.split():
            words.append(KvWord(token, [[x, y], [x + 9 * len(token), y], [x + 9 * len(token), y + 14],
                                        [x, y + 14]]))
            x += 9 * len(token) + 6
        entities.append(tuple(range(start, len(words))))
        labels.append(label)
        texts.append(text)
        return len(entities) - 1

    add("APPLICATION FORM", 200, 20, LABELS.index("header"))
    for row, (key, value) in enumerate(zip(KEYS, VALUES, strict=True)):
        y = 80 + 40 * row + rng.uniform(-3, 3)
        x = 40 + rng.uniform(-10, 10)
        key_entity = add(key, x, y, KEY)
        if value:
            links.append((key_entity, add(value, x + 150, y + rng.uniform(-2, 2), VALUE)))
    return Form(f"generated-{seed}", Path("generated.png"), 600, 400, words, entities, labels, texts, links)


FUNSD_NAMES = {KEY: "question", VALUE: "answer", LABELS.index("header"): "header",
               LABELS.index("other"): "other"}


def write_funsd_folder(folder: Path, seeds: range) -> Path:
    """``annotations/<id>.json`` + blank ``images/<id>.png`` for each generated form."""
    (folder / "annotations").mkdir(parents=True)
    (folder / "images").mkdir()
    for seed in seeds:
        form = generated_form(seed)
        items = []
        for index, (words, label, text) in enumerate(zip(form.entities, form.entity_labels,
                                                         form.entity_texts, strict=True)):
            boxes = [[round(v) for v in form.words[i].box()] for i in words]
            items.append({"id": index, "label": FUNSD_NAMES[label], "text": text,
                          "box": [min(b[0] for b in boxes), min(b[1] for b in boxes),
                                  max(b[2] for b in boxes), max(b[3] for b in boxes)],
                          "words": [{"text": form.words[i].text, "box": box} for i, box in zip(words, boxes,
                                                                                               strict=True)],
                          "linking": [[k, v] for k, v in form.links if index in (k, v)]})
        name = f"{seed:010d}"
        (folder / "annotations" / f"{name}.json").write_text(json.dumps({"form": items}))
        Image.new("L", (form.width, form.height), 255).save(folder / "images" / f"{name}.png")
    return folder
