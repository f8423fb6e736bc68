"""ML engineers roll a model version in and back out with no restart (explicit model control)."""

from __future__ import annotations

import shutil

import numpy as np
import torch
import tritonclient.http as httpclient

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export import car_evaluation
from docserve.export.onnx_export import export_checked

MODEL = "car_rollout_model"


def _probabilities(client: httpclient.InferenceServerClient, features: np.ndarray) -> np.ndarray:
    tensor = httpclient.InferInput("car_features", list(features.shape), "FP32")
    tensor.set_data_from_numpy(features)
    return client.infer(MODEL, [tensor]).as_numpy("class_probabilities")


def test_roll_forward_and_back(triton, scratch_repository):
    source = PROJECT_ROOT / "model_repository" / car_evaluation.MODEL_NAME
    target = scratch_repository / MODEL
    shutil.copytree(source / "1", target / "1")
    config = (source / "config.pbtxt").read_text().replace(car_evaluation.MODEL_NAME, MODEL)
    (target / "config.pbtxt").write_text(config)
    client = httpclient.InferenceServerClient(triton.http_url)
    client.load_model(MODEL)
    features = car_evaluation.load_dataset().features[:16]
    assert client.get_model_metadata(MODEL)["versions"] == ["1"]
    version_1 = _probabilities(client, features)

    # Version 2: a deliberately undertrained model, so its answers visibly differ.
    data = car_evaluation.load_dataset()
    undertrained = car_evaluation.train(data, np.arange(len(data.labels)), epochs=1)
    export_checked(
        undertrained, [torch.from_numpy(features)], target / "2" / "model.onnx",
        input_names=["car_features"], output_names=["class_probabilities"],
    )
    client.load_model(MODEL)
    assert client.get_model_metadata(MODEL)["versions"] == ["2"]
    assert not np.allclose(_probabilities(client, features), version_1, atol=1e-3)

    shutil.rmtree(target / "2")
    client.load_model(MODEL)
    assert client.get_model_metadata(MODEL)["versions"] == ["1"]
    np.testing.assert_allclose(_probabilities(client, features), version_1, rtol=1e-6)
    client.unload_model(MODEL)
