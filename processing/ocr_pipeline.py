"""The OCR pipeline's steps composed: page bytes -> detector input -> lines of text.

Triton runs these steps as models of the ``ocr`` ensemble (``text_detection_preprocess``,
``text_detection``, ``ocr_lines`` calling ``text_recognition``);
:class:`docserve.export.reference_ocr.InProcessOcr` runs the very same functions with two
onnxruntime sessions and no server, as the benchmarks' reference for what serving costs. Only
the model calls differ, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from docserve.processing.page_image import DEFAULT_MAX_PAGE_PIXELS, decode_page
from docserve.processing.text_detection import (
    DetectionSettings,
    bound_page,
    detection_input,
    reading_order,
    text_line_boxes,
)
from docserve.processing.text_recognition import (
    RecognizedLine,
    crop_line,
    ctc_greedy_decode,
    fit_to_ink,
    ink_mask,
    recognition_batches,
    strip_polygon,
    strip_width,
)

# Every batch of line_images [n, 3, 48, W] of a page -> for each, in order, (best_character_ids
# [n, steps], best_character_probabilities): all at once, so a server may run them concurrently.
Recognizer = Callable[[Sequence[np.ndarray]], Sequence[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class OcrSettings:
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    recognition_batch_size: int = 6  # crops per recognizer call (rapidocr's default)
    min_line_confidence: float = 0.5  # lines read with less confidence are dropped as noise
    max_page_pixels: int = DEFAULT_MAX_PAGE_PIXELS


@dataclass(frozen=True)
class OcrWord:
    text: str
    confidence: float  # the lowest probability of its characters
    polygon: np.ndarray  # [4, 2] float32 corners on the original page, inside its line's polygon


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float
    polygon: np.ndarray  # [4, 2] float32 x, y corners on the original page, clockwise
    words: tuple[OcrWord, ...] = ()  # the text split at spaces, in reading order


@dataclass(frozen=True)
class PreparedPage:
    """A decoded page, ready for the detector."""

    page_bgr: np.ndarray  # the page bounded to max_page_side, BGR as PP-OCR was trained on
    detection_input: np.ndarray  # [1, 3, H, W] float32
    original_size: np.ndarray  # [2] int32: height, width of the page as sent


def prepare_page(page_image_bytes: bytes, settings: OcrSettings) -> PreparedPage:
    """Decode page bytes (raises ``InvalidImageError``) and build the detector's input."""
    return prepare_page_pixels(decode_page(page_image_bytes, max_pixels=settings.max_page_pixels),
                               settings)


def prepare_page_pixels(page: np.ndarray, settings: OcrSettings) -> PreparedPage:
    """A decoded page (RGB ``[H, W, 3]`` or grayscale ``[H, W]`` uint8) -> the detector's input.

    Grayscale pages are what the document pipelines hand over after deskewing; PP-OCR reads
    them as BGR with three equal channels.
    """
    original_size = np.array(page.shape[:2], dtype=np.int32)
    # bound first: a 40 Mpx scan is not copied again at full size for the colour conversion
    bounded = bound_page(page, settings.detection)
    conversion = cv2.COLOR_GRAY2BGR if bounded.ndim == 2 else cv2.COLOR_RGB2BGR
    page_bgr = cv2.cvtColor(bounded, conversion)
    return PreparedPage(
        page_bgr=page_bgr,
        detection_input=detection_input(page_bgr, settings.detection),
        original_size=original_size,
    )


def read_lines(
    page_bgr: np.ndarray,
    text_probability_map: np.ndarray,
    original_size: Sequence[int],
    recognize: Recognizer,
    characters: Sequence[str],
    settings: OcrSettings,
) -> list[OcrLine]:
    """Detector output -> recognized lines in reading order, polygons on the original page.

    Each line's words are the parts of its box where the recognizer read them, trimmed to their
    ink.
    """
    height, width = page_bgr.shape[:2]
    boxes, _ = text_line_boxes(text_probability_map, height, width, settings.detection)
    boxes = boxes[reading_order(boxes)]
    crops = [crop_line(page_bgr, box) for box in boxes]
    recognized = recognize_crops(crops, recognize, characters, settings.recognition_batch_size)
    to_original = np.array([original_size[1] / width, original_size[0] / height], np.float32)
    return [
        OcrLine(line.text, line.confidence, box * to_original, _words(line, box, crop, to_original))
        for box, crop, line in zip(boxes, crops, recognized, strict=True)
        if line.text.strip() and line.confidence >= settings.min_line_confidence
    ]


def _words(line: RecognizedLine, box: np.ndarray, crop: np.ndarray,
           to_original: np.ndarray) -> tuple[OcrWord, ...]:
    ink = ink_mask(crop)
    return tuple(
        OcrWord(word.text, word.confidence,
                strip_polygon(box, *fit_to_ink(ink, word.start, word.end)) * to_original)
        for word in line.words
    )


def recognize_crops(
    crops: Sequence[np.ndarray],
    recognize: Recognizer,
    characters: Sequence[str],
    batch_size: int,
) -> list[RecognizedLine]:
    """Read every crop, in batches of similar width; results in the order of ``crops``."""
    recognized: list[RecognizedLine | None] = [None] * len(crops)
    batches = list(recognition_batches(crops, batch_size))
    answers = recognize([images for _, images in batches])
    for (indices, images), (ids, probabilities) in zip(batches, answers, strict=True):
        step_width = images.shape[3] / ids.shape[1]  # strip columns per recognizer step
        line_steps = [strip_width(crops[index], images.shape[3]) / step_width for index in indices]
        decoded = ctc_greedy_decode(ids, probabilities, characters, line_steps)
        for index, line in zip(indices, decoded, strict=True):
            recognized[index] = line
    return [line for line in recognized if line is not None]
