"""OCR only for the pipeline's expected document types (BLS to ``page_ocr``), else a skip note.

The decision is ``docserve.processing.document_gate``, shared with the in-process
reference pipeline. A skipped page costs no OCR at all: ``page_ocr`` is never called.
"""

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from docserve.processing.document_gate import (
    EXPECTED_TYPES_PARAMETER,
    GateConfigurationError,
    parse_expected_types,
    skip_for_type,
)
from docserve.processing.document_labels import ServedLabels

PASSED_THROUGH = ["line_texts", "line_confidences", "line_polygons",
                  "text_detection_preprocess_ms", "text_lines_ms"]


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.ocr_model = config["parameters"]["ocr_model"]["string_value"]
        classifier = config["parameters"]["classifier_model"]["string_value"]
        # The known types are those of the classifier version being served (its labels.txt).
        self.labels = ServedLabels(Path(args["model_repository"]).parent / classifier,
                                   pb_utils.is_model_ready)
        self.output_dtypes = {
            output["name"]: pb_utils.triton_string_to_numpy(output["data_type"])
            for output in config["output"]
        }

    def execute(self, requests):
        return [self._gate(request) for request in requests]

    def _gate(self, request):
        probabilities = pb_utils.get_input_tensor_by_name(
            request, "document_type_probabilities").as_numpy().reshape(-1)
        labels = self.labels.current(len(probabilities))
        try:
            expected = parse_expected_types(
                json.loads(request.parameters() or "{}").get(EXPECTED_TYPES_PARAMETER), labels)
        except GateConfigurationError as error:
            return _error(str(error), pb_utils.TritonError.INVALID_ARG)
        skipped = skip_for_type(probabilities, expected, labels)
        if skipped is not None:
            return self._respond(_no_text(), skipped.model_dump_json().encode("utf-8"))
        page = pb_utils.get_input_tensor_by_name(request, "deskewed_page").as_numpy()
        response = pb_utils.InferenceRequest(
            model_name=self.ocr_model,
            requested_output_names=PASSED_THROUGH,
            inputs=[pb_utils.Tensor("page", page)],
        ).exec()
        if response.has_error():
            error = response.error()
            return _error(f"{self.ocr_model}: {error.message()}", error.code())
        text = {name: pb_utils.get_output_tensor_by_name(response, name).as_numpy()
                for name in PASSED_THROUGH}
        return self._respond(text, b"")

    def _respond(self, text, skipped_json):
        outputs = {**text, "text_skipped_json": np.array([skipped_json], dtype=np.object_)}
        return pb_utils.InferenceResponse([
            pb_utils.Tensor(name, np.asarray(value).astype(self.output_dtypes[name], copy=False))
            for name, value in outputs.items()
        ])


def _no_text():
    return {
        "line_texts": np.zeros(0, dtype=np.object_),
        "line_confidences": np.zeros(0, dtype=np.float32),
        "line_polygons": np.zeros((0, 4, 2), dtype=np.float32),
        "text_detection_preprocess_ms": np.zeros(1, dtype=np.float32),
        "text_lines_ms": np.zeros(1, dtype=np.float32),
    }


def _error(message, code):
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message, code))
