"""Training the key -> value model (tiny, on generated forms) and its ONNX export's parity check."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import torch
from key_value_forms import generated_form

from docserve.export.key_values.build import export_model
from docserve.export.key_values.training import TrainingSettings, predict, train
from docserve.processing.key_values import OUTPUT_TENSORS as OUTPUTS
from docserve.processing.key_values import featurize

TINY = TrainingSettings(epochs=3, width=32, layers=1, pages_per_step=2)
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
