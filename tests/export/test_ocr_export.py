"""The graph edits of ``docserve export ocr`` on a tiny stand-in for the recognizer."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from docserve.export.ocr import append_greedy_step, rename_tensors


def softmax_model() -> onnx.ModelProto:
    """x [batch, steps, classes] -> Softmax -> fetch_name_0: the recognizer's outer shape."""
    shape = ["batch", "steps", 5]
    graph = helper.make_graph(
        [helper.make_node("Softmax", ["x"], ["fetch_name_0"], axis=2)],
        "recognizer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("fetch_name_0", TensorProto.FLOAT, shape)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], ir_version=7)


def run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


def test_renamed_and_greedy_recognizer_returns_argmax_and_max_per_step() -> None:
    logits = np.random.default_rng(0).normal(size=(2, 7, 5)).astype(np.float32)
    (distribution,) = run(softmax_model(), {"x": logits}).values()

    model = softmax_model()
    rename_tensors(model.graph, {"x": "line_images"})
    append_greedy_step(model.graph)
    onnx.checker.check_model(model, full_check=True)
    outputs = run(model, {"line_images": logits})

    assert list(outputs) == ["best_character_ids", "best_character_probabilities"]
    np.testing.assert_array_equal(outputs["best_character_ids"], distribution.argmax(axis=2))
    np.testing.assert_array_equal(
        outputs["best_character_probabilities"], distribution.max(axis=2)
    )


def test_renaming_an_output_renames_the_node_that_produces_it() -> None:
    model = softmax_model()
    rename_tensors(model.graph, {"x": "normalized_page", "fetch_name_0": "text_probability_map"})
    outputs = run(model, {"normalized_page": np.zeros((1, 1, 5), np.float32)})
    np.testing.assert_allclose(outputs["text_probability_map"], np.full((1, 1, 5), 0.2))
