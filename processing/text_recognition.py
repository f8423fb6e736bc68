"""PP-OCR text recognition around the ONNX model: line crops in, text and confidence out.

Each detected line is cut out of the page and rectified to an axis-aligned strip, scaled to
the recognizer's height of 48 pixels and normalized. Strips of one batch share a width (the
widest one's, right-padded with zeros), so crops are sorted by aspect ratio and batched with
their neighbours: little padding, few model calls. The model reads a strip as a sequence of
columns; CTC greedy decoding collapses repeated symbols and drops the blank symbol.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

LINE_HEIGHT = 48
MIN_LINE_WIDTH = 320  # the width PP-OCR rec was trained on: narrower batches are padded to it
CTC_BLANK_INDEX = 0
# The recognizer as ``ocr_lines`` calls it through BLS: its model and tensors, as its config.pbtxt
# declares them, ``docserve export ocr`` names them in the graph and the in-process reference
# feeds them.
RECOGNITION_MODEL = "text_recognition"
RECOGNITION_INPUT = "line_images"
RECOGNITION_OUTPUTS = ("best_character_ids", "best_character_probabilities")
# The recognizer's classes, one per line, in ``ocr_lines``' version folder (written by the export).
CHARACTER_SET_FILE = "character_set.txt"


@dataclass(frozen=True)
class RecognizedLine:
    text: str
    confidence: float  # mean probability of the decoded characters (0 when none)


def crop_line(page: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Cut the quadrilateral ``box`` out of ``page``, rectified to an upright rectangle.

    Strips much taller than wide are vertical text: they are turned to read left to right.
    """
    width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    transform = cv2.getPerspectiveTransform(box.astype(np.float32), target)
    crop = cv2.warpPerspective(
        page, transform, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    return np.rot90(crop) if height >= 1.5 * width else crop


def recognition_batches(
    crops: Sequence[np.ndarray], batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(crop_indices, line_images)`` batches of crops of similar aspect ratio.

    ``line_images`` is ``[n, 3, 48, W]`` float32, W the widest crop's width at height 48
    (at least :data:`MIN_LINE_WIDTH`); ``crop_indices`` say which crops it holds, in order.
    """
    aspect_ratios = np.array([crop.shape[1] / crop.shape[0] for crop in crops])
    order = np.argsort(aspect_ratios, kind="stable")
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        yield indices, line_images([crops[i] for i in indices])


def line_images(crops: Sequence[np.ndarray]) -> np.ndarray:
    """Scale crops to height 48, normalize to [-1, 1] and right-pad them to one width."""
    widest_ratio = max([MIN_LINE_WIDTH / LINE_HEIGHT] + [c.shape[1] / c.shape[0] for c in crops])
    batch_width = int(LINE_HEIGHT * widest_ratio)
    batch = np.zeros((len(crops), 3, LINE_HEIGHT, batch_width), dtype=np.float32)
    for position, crop in enumerate(crops):
        width = min(batch_width, math.ceil(LINE_HEIGHT * crop.shape[1] / crop.shape[0]))
        resized = cv2.resize(crop, (width, LINE_HEIGHT)).astype(np.float32)
        batch[position, :, :, :width] = (resized.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return batch


def load_characters(path: Path) -> list[str]:
    """The recognizer's output classes: CTC blank, the character set file's lines, a space."""
    characters = path.read_text(encoding="utf-8").split("\n")
    if characters and characters[-1] == "":
        characters.pop()
    return ["", *characters, " "]


def ctc_greedy_decode(
    best_classes: np.ndarray, best_probabilities: np.ndarray, characters: Sequence[str]
) -> list[RecognizedLine]:
    """Greedy CTC decoding of ``[lines, steps]`` most-probable classes and their probabilities.

    Repeats of a class in consecutive steps are one character; the blank class separates
    characters and is dropped. A line's confidence is the mean probability of its kept steps.
    """
    lines = []
    for classes, probabilities in zip(best_classes, best_probabilities, strict=True):
        starts_new = np.ones(len(classes), dtype=bool)
        starts_new[1:] = classes[1:] != classes[:-1]
        kept = starts_new & (classes != CTC_BLANK_INDEX)
        text = "".join(characters[index] for index in classes[kept])
        confidence = float(probabilities[kept].mean()) if kept.any() else 0.0
        lines.append(RecognizedLine(text, confidence))
    return lines
