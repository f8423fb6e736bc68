"""PP-OCR text recognition around the ONNX model: line crops in, text and confidence out.

Each detected line is cut out of the page and rectified to an axis-aligned strip, scaled to
the recognizer's height of 48 pixels and normalized. Strips of one batch share a width (the
widest one's, right-padded with zeros), so crops are sorted by aspect ratio and batched with
their neighbours: little padding, few model calls. The model reads a strip as a sequence of
columns; CTC greedy decoding collapses repeated symbols and drops the blank symbol.

Each decoded character also says where it was read: the steps of its run (a step is
``strip width / steps`` pixels of the scaled strip). That splits a line into words, each with
its extent along the line, which :func:`strip_polygon` maps back onto the page through the
crop's own transform.
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
class RecognizedWord:
    """A run of non-space characters of a line and where it lies along the line."""

    text: str
    # the lowest probability of its characters: a word is as doubtful as its most doubtful
    # character (on FUNSD forms the minimum tells misread words from right ones better than the
    # mean: AUROC 0.823 vs 0.810, docs/ocr.md)
    confidence: float
    start: float  # its extent along the line's reading direction, in fractions of the line's
    end: float  # length: 0 = where the line starts, 1 = where it ends


@dataclass(frozen=True)
class RecognizedLine:
    text: str
    confidence: float  # mean probability of the decoded characters (0 when none)
    words: tuple[RecognizedWord, ...] = ()  # the text split at spaces, in reading order


def crop_line(page: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Cut the quadrilateral ``box`` out of ``page``, rectified to an upright rectangle.

    Strips much taller than wide are vertical text: they are turned to read left to right.
    """
    width, height = _crop_size(box)
    transform = cv2.getPerspectiveTransform(box.astype(np.float32), _crop_corners(width, height))
    crop = cv2.warpPerspective(
        page, transform, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    return np.rot90(crop) if _is_vertical(width, height) else crop


def strip_polygon(box: np.ndarray, start: float, end: float, top: float = 0.0,
                  bottom: float = 1.0) -> np.ndarray:
    """The part of line ``box`` from ``start`` to ``end`` along its reading direction and from
    ``top`` to ``bottom`` across it (fractions of the strip :func:`crop_line` cuts) as ``[4, 2]``
    float32 corners in ``box``'s coordinates, clockwise from the part's top-left.

    It inverts :func:`crop_line`: the part's rectangle on the strip goes through the crop's own
    perspective transform, so it follows the line's baseline however the line is turned, and
    ``(0, 1, 0, 1)`` is ``box`` itself.
    """
    width, height = _crop_size(box)
    if _is_vertical(width, height):  # the strip is the crop turned counter-clockwise
        left, right = width * (1 - top), width * (1 - bottom)
        on_crop = [[left, start * height], [left, end * height], [right, end * height],
                   [right, start * height]]
    else:
        on_crop = [[start * width, top * height], [end * width, top * height],
                   [end * width, bottom * height], [start * width, bottom * height]]
    to_page = cv2.getPerspectiveTransform(_crop_corners(width, height), box.astype(np.float32))
    points = np.array(on_crop, dtype=np.float32).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(points, to_page).reshape(4, 2)


def ink_mask(strip: np.ndarray) -> np.ndarray:
    """``bool [h, w]``: the text pixels of a line strip, by Otsu's threshold (the minority side,
    so light text on a dark ground counts too)."""
    gray = cv2.cvtColor(strip, cv2.COLOR_BGR2GRAY) if strip.ndim == 3 else strip
    _, dark = cv2.threshold(np.ascontiguousarray(gray), 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return dark.astype(bool) if dark.mean() <= 0.5 else dark == 0


def fit_to_ink(ink: np.ndarray, start: float, end: float) -> tuple[float, float, float, float]:
    """``(start, end, top, bottom)``: the strip's part from ``start`` to ``end`` shrunk to the ink
    inside it (fractions of the strip); the whole height of the part when it holds no ink."""
    height, width = ink.shape
    left, right = math.floor(start * width), math.ceil(end * width)
    columns = np.flatnonzero(ink[:, left:right].any(axis=0))
    if not columns.size:
        return start, end, 0.0, 1.0
    first, last = left + columns[0], left + columns[-1] + 1
    rows = np.flatnonzero(ink[:, first:last].any(axis=1))
    return first / width, last / width, rows[0] / height, (rows[-1] + 1) / height


def _crop_size(box: np.ndarray) -> tuple[int, int]:
    width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    return width, height


def _crop_corners(width: int, height: int) -> np.ndarray:
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)


def _is_vertical(width: int, height: int) -> bool:
    return height >= 1.5 * width


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
        width = strip_width(crop, batch_width)
        resized = cv2.resize(crop, (width, LINE_HEIGHT)).astype(np.float32)
        batch[position, :, :, :width] = (resized.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return batch


def strip_width(crop: np.ndarray, batch_width: int) -> int:
    """How many columns of a batch ``batch_width`` wide the crop fills (the rest is padding)."""
    return min(batch_width, math.ceil(LINE_HEIGHT * crop.shape[1] / crop.shape[0]))


def load_characters(path: Path) -> list[str]:
    """The recognizer's output classes: CTC blank, the character set file's lines, a space."""
    characters = path.read_text(encoding="utf-8").split("\n")
    if characters and characters[-1] == "":
        characters.pop()
    return ["", *characters, " "]


def ctc_greedy_decode(
    best_classes: np.ndarray,
    best_probabilities: np.ndarray,
    characters: Sequence[str],
    line_steps: Sequence[float] | None = None,
) -> list[RecognizedLine]:
    """Greedy CTC decoding of ``[lines, steps]`` most-probable classes and their probabilities.

    Repeats of a class in consecutive steps are one character; the blank class separates
    characters and is dropped. A line's confidence is the mean probability of its kept steps.
    ``line_steps``: how many steps each line's strip fills before its padding (all by default),
    the length its words' extents are fractions of.
    """
    lines = []
    for line, (classes, probabilities) in enumerate(zip(best_classes, best_probabilities, strict=True)):
        starts_new = np.ones(len(classes), dtype=bool)
        starts_new[1:] = classes[1:] != classes[:-1]
        kept = starts_new & (classes != CTC_BLANK_INDEX)
        text = "".join(characters[index] for index in classes[kept])
        confidence = float(probabilities[kept].mean()) if kept.any() else 0.0
        length = float(len(classes) if line_steps is None else line_steps[line])
        lines.append(RecognizedLine(text, confidence, _words(classes, probabilities, characters, length)))
    return lines


def _words(classes: np.ndarray, probabilities: np.ndarray, characters: Sequence[str],
           line_steps: float) -> tuple[RecognizedWord, ...]:
    """Split a decoded line at its spaces; each word spans its characters' steps.

    A character sits at the middle of its run of steps; a word reaches a character pitch (the
    median distance between neighbouring characters of a word) beyond its outer characters, but
    never past the middle of the space next to it: generous, since a character's steps may lie
    anywhere on its glyph (:func:`fit_to_ink` then trims the part to its ink). A word with no
    space before it starts where the line starts, one with none after it ends where the line
    ends: the detector's box bounds the text, so a line of one word is one word as long as the
    line.
    """
    change = np.flatnonzero(classes[1:] != classes[:-1]) + 1
    run_starts = np.concatenate([[0], change])
    run_ends = np.concatenate([change, [len(classes)]])
    kept = classes[run_starts] != CTC_BLANK_INDEX
    centres = (run_starts[kept] + run_ends[kept]) / 2.0
    texts = [characters[index] for index in classes[run_starts[kept]]]
    character_probabilities = probabilities[run_starts[kept]]
    spans = _word_spans(texts)
    pitch = _pitch(centres, spans)
    last = len(texts) - 1
    words = []
    for first, final in spans:
        start = 0.0 if first == 0 else max(centres[first] - pitch, centres[first - 1])
        end = line_steps if final == last else min(centres[final] + pitch, centres[final + 1])
        start, end = (float(np.clip(value, 0.0, line_steps) / line_steps) for value in (start, end))
        words.append(RecognizedWord("".join(texts[first : final + 1]),
                                    float(character_probabilities[first : final + 1].min()),
                                    start, max(start, end)))
    return tuple(words)


def _word_spans(texts: Sequence[str]) -> list[tuple[int, int]]:
    """``(first, last)`` character indices of each run of characters that are no whitespace."""
    spans, first = [], None
    for index, text in enumerate(texts):
        if text.isspace():
            if first is not None:
                spans.append((first, index - 1))
            first = None
        elif first is None:
            first = index
    if first is not None:
        spans.append((first, len(texts) - 1))
    return spans


def _pitch(centres: np.ndarray, spans: Sequence[tuple[int, int]]) -> float:
    """Steps between neighbouring characters: the median within words, else across the line."""
    within = [np.diff(centres[first : last + 1]) for first, last in spans]
    gaps = np.concatenate(within) if within else np.array([])
    if not gaps.size:
        gaps = np.diff(centres)
    return float(np.median(gaps)) if gaps.size else 0.0
