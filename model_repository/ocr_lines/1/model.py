"""Text probability map + page -> recognized lines, calling ``text_recognition`` through BLS.

All processing is ``docserve.processing.ocr_pipeline.read_lines``; this model only
supplies the recognizer (a BLS request per batch of crops) and returns the lines as typed
tensors (``page_result`` turns them into the page result JSON). A page without text gives
empty outputs.
"""

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from docserve.processing.ocr_pipeline import OcrSettings, read_lines
from docserve.processing.step_timing import StepClock
from docserve.processing.text_recognition import load_characters

RECOGNITION_MODEL = "text_recognition"
RECOGNITION_OUTPUTS = ["best_character_ids", "best_character_probabilities"]


class RecognitionError(RuntimeError):
    """The text_recognition model failed on a batch of line images."""


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        parameters = {key: value["string_value"] for key, value in config["parameters"].items()}
        self.settings = OcrSettings(
            recognition_batch_size=int(parameters["recognition_batch_size"]),
            min_line_confidence=float(parameters["min_line_confidence"]),
        )
        version_dir = Path(args["model_repository"]) / args["model_version"]
        self.characters = load_characters(version_dir / "character_set.txt")
        self.output_dtypes = {
            output["name"]: pb_utils.triton_string_to_numpy(output["data_type"])
            for output in config["output"]
        }

    def execute(self, requests):
        return [self._read(request) for request in requests]

    def _read(self, request):
        def tensor(name):
            return pb_utils.get_input_tensor_by_name(request, name).as_numpy()

        clock = StepClock()
        original_size = tensor("original_page_size")
        try:
            lines = read_lines(
                tensor("page_pixels_bgr"),
                tensor("text_probability_map")[0, 0],
                original_size,
                _recognize,
                self.characters,
                self.settings,
            )
        except RecognitionError as error:
            return pb_utils.InferenceResponse(
                error=pb_utils.TritonError(str(error), pb_utils.TritonError.INTERNAL)
            )
        outputs = {
            "line_texts": np.array([line.text.encode("utf-8") for line in lines], dtype=object),
            "line_confidences": np.array([line.confidence for line in lines]),
            "line_polygons": np.array([line.polygon for line in lines]).reshape(-1, 4, 2),
            "elapsed_ms": clock.elapsed_ms(),
        }
        return pb_utils.InferenceResponse(
            [
                pb_utils.Tensor(name, value.astype(self.output_dtypes[name], copy=False))
                for name, value in outputs.items()
            ]
        )


def _recognize(line_images):
    """One BLS call to the recognizer: ``[n, 3, 48, W]`` -> best ids and probabilities."""
    response = pb_utils.InferenceRequest(
        model_name=RECOGNITION_MODEL,
        requested_output_names=RECOGNITION_OUTPUTS,
        inputs=[pb_utils.Tensor("line_images", line_images)],
    ).exec()
    if response.has_error():
        raise RecognitionError(f"{RECOGNITION_MODEL} failed: {response.error().message()}")
    return tuple(
        pb_utils.get_output_tensor_by_name(response, name).as_numpy()
        for name in RECOGNITION_OUTPUTS
    )
