"""StepConfig: what a python step reads from its config.pbtxt, with errors naming model and key.

The config is the JSON Triton hands ``initialize``; the type names go through the same table
Triton's ``pb_utils.triton_string_to_numpy`` uses (passed in, as in the step base).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from docserve.processing.step_config import StepConfig
from docserve.processing.step_errors import StepConfigurationError

NUMPY_DTYPES = {"TYPE_FP32": np.float32, "TYPE_INT32": np.int32, "TYPE_STRING": np.object_,
                "TYPE_BOOL": bool, "TYPE_UINT8": np.uint8}


def _config(**parameters: str) -> StepConfig:
    model_config = {
        "name": "ocr_lines",
        "input": [{"name": "page", "data_type": "TYPE_UINT8"},
                  {"name": "decode_ms", "data_type": "TYPE_FP32"}],
        "output": [{"name": "line_texts", "data_type": "TYPE_STRING"},
                   {"name": "line_confidences", "data_type": "TYPE_FP32"},
                   {"name": "checked", "data_type": "TYPE_BOOL"}],
        "parameters": {key: {"string_value": value} for key, value in parameters.items()},
    }
    args = {"model_config": json.dumps(model_config), "model_name": "ocr_lines",
            "model_repository": "/models/ocr_lines", "model_version": "3"}
    return StepConfig.from_args(args, NUMPY_DTYPES.__getitem__)


def test_paths_and_dtypes_come_from_the_load_arguments() -> None:
    config = _config()
    assert config.version_dir == Path("/models/ocr_lines/3")
    assert config.repository == Path("/models")
    assert list(config.input_dtypes) == ["page", "decode_ms"]
    assert config.output_dtypes == {"line_texts": np.object_, "line_confidences": np.float32,
                                    "checked": bool}


def test_parameters_are_typed() -> None:
    config = _config(batch="6", confidence="0.5", model="page_ocr", parts='{"text": ["a", "b"]}')
    assert config.int_parameter("batch") == 6
    assert config.float_parameter("confidence") == 0.5
    assert config.str_parameter("model") == "page_ocr"
    assert config.json_parameter("parts") == {"text": ["a", "b"]}


def test_a_missing_parameter_takes_its_default_or_names_model_and_key() -> None:
    config = _config()
    assert config.int_parameter("threads", default=1) == 1
    with pytest.raises(StepConfigurationError, match=r"ocr_lines: config\.pbtxt has no parameter 'batch'"):
        config.int_parameter("batch")


@pytest.mark.parametrize(("read", "message"), [
    (lambda config: config.int_parameter("value"), "parameter 'value' = 'six' is no int"),
    (lambda config: config.float_parameter("value"), "parameter 'value' = 'six' is no float"),
    (lambda config: config.json_parameter("value"), "parameter 'value' = 'six' is no JSON"),
])
def test_a_garbled_parameter_says_what_it_should_be(read, message: str) -> None:
    with pytest.raises(StepConfigurationError, match=f"ocr_lines: {message}"):
        read(_config(value="six"))


def test_outputs_are_cast_to_their_declared_dtype_contiguously() -> None:
    config = _config()
    confidences = config.cast("line_confidences", [0.25, 1])
    assert confidences.dtype == np.float32 and confidences.tolist() == [0.25, 1.0]
    texts = config.cast("line_texts", [b"Invoice", b"Total"])
    assert texts.dtype == np.object_ and texts.tolist() == [b"Invoice", b"Total"]
    turned = config.cast("checked", np.eye(3, dtype=bool)[:, ::-1])
    assert turned.flags.c_contiguous


def test_an_output_the_config_does_not_declare_is_a_configuration_error() -> None:
    with pytest.raises(StepConfigurationError, match=r"ocr_lines: config\.pbtxt declares no output 'lines'"):
        _config().cast("lines", [])
