"""The key_values model in the real Triton: its config agrees with the shared featurization, it
loads, answers one page's words (any count) like onnxruntime does in process, and its output
decodes into the form's key -> value pairs."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from model_configs import parse_config
from tritonclient.utils import np_to_triton_dtype

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export.key_values.build import INPUTS, MODEL_NAME, VERSION, onnx_predictor
from docserve.processing.key_values import (
    LABELS,
    NGRAMS_PER_WORD,
    WORD_FEATURES,
    KvWord,
    decode,
    featurize,
)
from docserve.processing.key_values import OUTPUT_TENSORS as OUTPUTS

MODEL_DIR = PROJECT_ROOT / "model_repository" / MODEL_NAME
EXPECTED_DIMS = {INPUTS[0]: [-1, NGRAMS_PER_WORD], INPUTS[1]: [-1, WORD_FEATURES],
                 OUTPUTS[0]: [-1, len(LABELS)], OUTPUTS[1]: [-1, -1], OUTPUTS[2]: [-1, -1]}


def _line(words: list[str], x: float, y: float) -> list[KvWord]:
    placed = []
    for text in words:
        width = 8.5 * len(text)
        placed.append(KvWord(text, [[x, y], [x + width, y], [x + width, y + 14], [x, y + 14]], 0.95))
        x += width + 7
    return placed


# A typed form: two filled fields with their values right of the keys, one left empty.
FORM = [*_line(["APPLICATION", "FOR", "EMPLOYMENT"], 250, 40),
        *_line(["Name:"], 60, 120), *_line(["John", "Smith"], 200, 120),
        *_line(["Date", "of", "birth:"], 60, 160), *_line(["05/12/1961"], 200, 160),
        *_line(["Telephone:"], 60, 200)]


def test_config_restates_the_featurization():
    config = parse_config(MODEL_DIR / "config.pbtxt")
    assert config.backend == "onnxruntime" and config.max_batch_size == 0
    assert {tensor.name: list(tensor.dims) for tensor in (*config.input, *config.output)} == EXPECTED_DIMS


@pytest.fixture(scope="module")
def client(triton):
    return grpcclient.InferenceServerClient(triton.grpc_url)


def _infer(client, words: list[KvWord]) -> dict[str, np.ndarray]:
    inputs = []
    for name, array in featurize(words, 800, 1000).items():
        tensor = grpcclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    result = client.infer(MODEL_NAME, inputs)
    return {name: result.as_numpy(name) for name in OUTPUTS}


def test_triton_answers_like_onnxruntime_in_process(client):
    served = _infer(client, FORM)
    local = onnx_predictor(MODEL_DIR / str(VERSION) / "model.onnx")(featurize(FORM, 800, 1000))
    count = len(FORM)
    assert served[OUTPUTS[1]].shape == (count, count + 1) and served[OUTPUTS[2]].shape == (count, count)
    for name in OUTPUTS:
        np.testing.assert_allclose(served[name], local[name], atol=1e-4)


def test_served_output_decodes_into_the_forms_pairs(client):
    page = decode(FORM, _infer(client, FORM))
    pairs = {pair.key.text: (pair.value.text if pair.value else None) for pair in page.pairs}
    assert pairs == {"Name:": "John Smith", "Date of birth:": "05/12/1961", "Telephone:": None}


def test_a_single_word_page_is_served(client):
    served = _infer(client, FORM[:1])
    assert served[OUTPUTS[1]].shape == (1, 2)
