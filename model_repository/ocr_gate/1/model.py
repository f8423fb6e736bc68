"""OCR only for the pipeline's expected document types (BLS to ``page_ocr``), else a skip note.

The decision is ``docserve.processing.document_gate``, shared with the in-process
reference pipeline. A skipped page costs no OCR at all: ``page_ocr`` is never called.
"""

import numpy as np

from docserve.processing.document_gate import (
    EXPECTED_TYPES_PARAMETER,
    MIN_EXPECTED_PROBABILITY_PARAMETER,
    min_expected_probability,
    parse_expected_types,
    skip_for_type,
)
from docserve.processing.document_labels import ServedLabels
from docserve.processing.triton_step import TritonStep

PASSED_THROUGH = ["line_texts", "line_confidences", "line_polygons", "word_texts", "word_confidences",
                  "word_polygons", "line_word_counts", "text_detection_preprocess_ms", "text_lines_ms"]
NO_TEXT = {"line_texts": [], "line_confidences": [], "line_polygons": np.zeros((0, 4, 2)),
           "word_texts": [], "word_confidences": [], "word_polygons": np.zeros((0, 4, 2)),
           "line_word_counts": [], "text_detection_preprocess_ms": [0.0], "text_lines_ms": [0.0]}


class TritonPythonModel(TritonStep):
    def setup(self, config):
        self.ocr_model = config.str_parameter("ocr_model")
        # The known types are those of the classifier version being served (its labels.txt).
        self.labels = ServedLabels(config.repository / config.str_parameter("classifier_model"),
                                   self.is_model_ready)
        self.min_probability = min_expected_probability(
            config.float_parameter(MIN_EXPECTED_PROBABILITY_PARAMETER))

    def run(self, request):
        probabilities = request.input("document_type_probabilities").reshape(-1)
        labels = self.labels.current(len(probabilities))
        expected = parse_expected_types(request.parameters().get(EXPECTED_TYPES_PARAMETER), labels)
        skipped = skip_for_type(probabilities, expected, labels, self.min_probability)
        if skipped is not None:
            return {**NO_TEXT, "text_skipped_json": [skipped.model_dump_json().encode("utf-8")]}
        text = self.call(self.ocr_model, {"page": request.input("deskewed_page")}, PASSED_THROUGH)
        return {**text, "text_skipped_json": [b""]}
