"""The car_evaluation ensemble in the real Triton, called directly (gRPC and HTTP)."""

from __future__ import annotations

import concurrent.futures

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from docserve.export.car_evaluation import load_dataset
from docserve.processing.car_features import ATTRIBUTES, CLASS_LABELS


def _inputs(module, records: list[dict[str, str]]):
    tensors = []
    for name in ATTRIBUTES:
        column = np.array([[record[name].encode()] for record in records], dtype=np.object_)
        tensor = module.InferInput(name, list(column.shape), "BYTES")
        tensor.set_data_from_numpy(column)
        tensors.append(tensor)
    return tensors


def test_grpc_labels_and_probabilities(triton, best_car, worst_car):
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    result = client.infer("car_evaluation", _inputs(grpcclient, [best_car, worst_car]))
    labels = [value.decode() for value in result.as_numpy("predicted_label").reshape(-1)]
    probabilities = result.as_numpy("class_probabilities")
    assert labels == ["vgood", "unacc"]
    assert probabilities.shape == (2, len(CLASS_LABELS))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_http_client_matches_the_whole_dataset_closely(triton):
    """Every one of the 1728 cars through HTTP: the served pipeline reproduces the rule table."""
    rows = load_dataset()
    records = [dict(zip(ATTRIBUTES, values, strict=True)) for values in _decode(rows.features)]
    client = httpclient.InferenceServerClient(triton.http_url)
    predicted: list[str] = []
    for start in range(0, len(records), 1024):
        result = client.infer("car_evaluation", _inputs(httpclient, records[start : start + 1024]))
        predicted += [value.decode() for value in result.as_numpy("predicted_label").reshape(-1)]
    truth = [CLASS_LABELS[label] for label in rows.labels]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth, strict=True)])
    assert accuracy >= 0.97


def _decode(features: np.ndarray) -> list[tuple[str, ...]]:
    """Invert the one-hot encoding (test helper: the dataset file is the source of truth)."""
    decoded = []
    for row in features:
        values, offset = [], 0
        for vocabulary in ATTRIBUTES.values():
            values.append(vocabulary[int(np.argmax(row[offset : offset + len(vocabulary)]))])
            offset += len(vocabulary)
        decoded.append(tuple(values))
    return decoded


def test_unknown_category_is_invalid_argument_naming_it(triton, best_car, worst_car):
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    with pytest.raises(InferenceServerException) as raised:
        client.infer("car_evaluation", _inputs(grpcclient, [best_car, {**worst_car, "safety": "none"}]))
    assert raised.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "'none' for 'safety' in record 1" in raised.value.message()


def test_a_bad_request_does_not_fail_its_batch_neighbours(triton, best_car):
    """Concurrent requests are batched together by Triton; only the bad one gets an error."""
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    bad = {**best_car, "doors": "seven"}

    def call(record):
        try:
            result = client.infer("car_evaluation", _inputs(grpcclient, [record]))
            return result.as_numpy("predicted_label")[0, 0].decode()
        except InferenceServerException as error:
            return error.status()

    records = [best_car, bad] * 16
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(call, records))
    assert answers[0::2] == ["vgood"] * 16
    assert answers[1::2] == ["StatusCode.INVALID_ARGUMENT"] * 16


def test_onnx_model_alone_accepts_a_dynamic_batch(triton):
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    features = np.zeros((3, 21), dtype=np.float32)
    tensor = grpcclient.InferInput("car_features", [3, 21], "FP32")
    tensor.set_data_from_numpy(features)
    result = client.infer("car_evaluation_model", [tensor])
    assert result.as_numpy("class_probabilities").shape == (3, 4)
