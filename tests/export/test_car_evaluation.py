"""Training, export parity and the committed model's held-out quality."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export import car_evaluation
from docserve.export.onnx_export import ParityError, export_checked


def test_stratified_split_keeps_class_proportions_and_is_seeded():
    labels = car_evaluation.load_dataset().labels
    train, held_out = car_evaluation.stratified_split(labels, 0.2, seed=1)
    assert not set(train) & set(held_out) and len(train) + len(held_out) == len(labels)
    for label in np.unique(labels):
        share = np.mean(labels[held_out] == label) / np.mean(labels == label)
        assert share == pytest.approx(1.0, abs=0.05)
    again = car_evaluation.stratified_split(labels, 0.2, seed=1)
    assert np.array_equal(again[1], held_out)


def test_export_is_checked_against_torch(tmp_path):
    data = car_evaluation.load_dataset()
    model = car_evaluation.train(data, np.arange(len(data.labels)), epochs=2)
    import torch

    report = export_checked(
        model, [torch.from_numpy(data.features[:8])], tmp_path / "1" / "model.onnx",
        input_names=["car_features"], output_names=["class_probabilities"],
    )
    assert report.max_abs_diff < 1e-5
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["car_features"]
    assert session.get_inputs()[0].shape[0] == "batch"  # dynamic batch axis
    assert session.run(None, {"car_features": data.features[:5]})[0].shape == (5, 4)


def test_parity_failure_is_reported(tmp_path):
    import torch

    class Noisy(torch.nn.Module):
        """Differs between runs: the ONNX copy cannot match it."""

        def forward(self, x):
            return x + torch.rand_like(x)

    with pytest.raises(ParityError, match="max abs diff"):
        export_checked(Noisy(), [torch.zeros(2, 3)], tmp_path / "m.onnx", ["x_in"], ["x_out"])


def test_committed_model_meets_the_accuracy_target_on_the_held_out_split():
    data = car_evaluation.load_dataset()
    _, held_out = car_evaluation.stratified_split(
        data.labels, car_evaluation.HELD_OUT_FRACTION, car_evaluation.SEED
    )
    path = PROJECT_ROOT / "model_repository" / car_evaluation.MODEL_NAME / "1" / "model.onnx"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probabilities = session.run(None, {"car_features": data.features[held_out]})[0]
    accuracy = np.mean(probabilities.argmax(axis=1) == data.labels[held_out])
    assert accuracy >= 0.97
