"""Text probability map + page -> recognized lines, calling ``text_recognition`` through BLS.

All processing is ``docserve.processing.ocr_pipeline.read_lines``; this model only
supplies the recognizer (one BLS request per batch of crops, several in flight at once) and
returns the lines and their words as typed tensors (``page_result`` turns them into the page
result JSON): the words flat, ``line_word_counts`` saying how many belong to each line. A page
without text gives empty outputs.
"""

import numpy as np

from docserve.processing.ocr_pipeline import OcrSettings, read_lines
from docserve.processing.text_recognition import (
    CHARACTER_SET_FILE,
    RECOGNITION_INPUT,
    RECOGNITION_OUTPUTS,
    load_characters,
)
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def setup(self, config):
        self.settings = OcrSettings(
            recognition_batch_size=config.int_parameter("recognition_batch_size"),
            min_line_confidence=config.float_parameter("min_line_confidence"),
        )
        self.recognition_model = config.str_parameter("recognition_model")
        self.characters = load_characters(config.version_dir / CHARACTER_SET_FILE)

    def run(self, request):
        lines = read_lines(request.input("page_pixels_bgr"), request.input("text_probability_map")[0, 0],
                           request.input("original_page_size"), self._recognize, self.characters,
                           self.settings)
        words = [word for line in lines for word in line.words]
        return {"line_texts": [line.text.encode("utf-8") for line in lines],
                "line_confidences": [line.confidence for line in lines],
                "line_polygons": np.reshape([line.polygon for line in lines], (-1, 4, 2)),
                "word_texts": [word.text.encode("utf-8") for word in words],
                "word_confidences": [word.confidence for word in words],
                "word_polygons": np.reshape([word.polygon for word in words], (-1, 4, 2)),
                "line_word_counts": [len(line.words) for line in lines]}

    def _recognize(self, batches):
        answers = self.call_concurrently(
            self.recognition_model, [{RECOGNITION_INPUT: images} for images in batches], RECOGNITION_OUTPUTS)
        return [tuple(answer[name] for name in RECOGNITION_OUTPUTS) for answer in answers]
