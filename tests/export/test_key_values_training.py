"""Training the key -> value model (tiny, on generated forms) and its ONNX export's parity check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from docserve.export.key_values.build import OUTPUTS, export_model
from docserve.export.key_values.forms import Form
from docserve.export.key_values.training import TrainingSettings, predict, train
from docserve.processing.key_values import KEY, LABELS, VALUE, KvWord, featurize

TINY = TrainingSettings(epochs=3, width=32, layers=1, pages_per_step=2)
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


def test_tiny_model_trains_deterministically_and_its_loss_falls():
    forms = [generated_form(seed) for seed in range(4)]
    losses: list[float] = []
    first = train(forms, TINY, progress=lambda epoch, loss: losses.append(loss))
    second = train(forms, TINY)
    assert losses[-1] < losses[0]
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_onnx_export_matches_torch_on_any_word_count(tmp_path):
    model = train([generated_form(seed) for seed in range(2)], TrainingSettings(epochs=1, width=32, layers=1))
    report = export_model(model, generated_form(7), tmp_path / "model.onnx")
    assert report.max_abs_diff < 1e-4
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    inputs = featurize(generated_form(8).words[:5], 600, 400)  # another word count than the sample's
    expected = predict(model, inputs)
    actual = dict(zip(OUTPUTS, session.run(list(OUTPUTS), inputs), strict=True))
    assert actual[OUTPUTS[1]].shape == (5, 6)
    for name in OUTPUTS:
        np.testing.assert_allclose(actual[name], expected[name], atol=1e-4)
