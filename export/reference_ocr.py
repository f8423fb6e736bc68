"""The OCR pipeline in this process, with no server: the benchmarks' and tests' reference.

It runs :mod:`docserve.processing.ocr_pipeline`'s steps, the very functions Triton's python
models run, around two onnxruntime sessions; only the model calls differ from the ``ocr``
ensemble, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from docserve.export.ocr import DETECTION_INPUT
from docserve.processing.ocr_pipeline import (
    OcrLine,
    OcrSettings,
    PreparedPage,
    prepare_page,
    prepare_page_pixels,
    read_lines,
)
from docserve.processing.text_recognition import RECOGNITION_INPUT, load_characters


class InProcessOcr:
    """The whole pipeline in this process: the serving-free reference for benchmarks."""

    def __init__(
        self,
        detection_model: Path,
        recognition_model: Path,
        character_set: Path,
        threads: int = 2,
        settings: OcrSettings | None = None,
    ):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        self.detector = ort.InferenceSession(str(detection_model), options, providers=providers)
        self.recognizer = ort.InferenceSession(str(recognition_model), options, providers=providers)
        self.characters = load_characters(character_set)
        self.settings = settings or OcrSettings()

    def _recognize(self, batches: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [tuple(self.recognizer.run(None, {RECOGNITION_INPUT: images})) for images in batches]

    def __call__(self, page_image_bytes: bytes) -> list[OcrLine]:
        return self.read(prepare_page(page_image_bytes, self.settings))

    def read_pixels(self, page: np.ndarray) -> list[OcrLine]:
        """Lines of an already decoded page (RGB or grayscale), polygons in its pixels."""
        return self.read(prepare_page_pixels(page, self.settings))

    def read(self, page: PreparedPage) -> list[OcrLine]:
        (probability_map,) = self.detector.run(None, {DETECTION_INPUT: page.detection_input})
        return read_lines(
            page.page_bgr,
            probability_map[0, 0],
            page.original_size,
            self._recognize,
            self.characters,
            self.settings,
        )
