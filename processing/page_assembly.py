"""Model outputs of one page -> its :class:`PageResult`, with coordinates on the page as sent.

A document pipeline first turns the page upright by a quarter-turn multiple (orientation), then
straightens its skew (``deskew_apply``). Steps after ``deskew_apply`` (checkboxes, OCR) see the
straightened page on a grown canvas, the signature model reads the thumbnail of the page turned
upright; their points are mapped back here with the inverse of both rotations, so no model has
to know about them. A pipeline without those steps needs no mapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from docserve.contract.document_types import DOCUMENT_TYPES
from docserve.contract.page_result import (
    Checkbox,
    Checkboxes,
    DocumentType,
    FieldOption,
    FieldText,
    KeyValue,
    ModelVersion,
    Orientation,
    PageResult,
    PageSize,
    Signature,
    Skew,
    SkippedStep,
    Text,
    TextLine,
    Word,
)
from docserve.processing.page_orientation import (
    PageOrientation,
    orientation_transform,
    upright_size,
)
from docserve.processing.page_rotation import box_corners, undo_deskew

Models = Mapping[str, Sequence[ModelVersion]]  # result part -> the models behind it


@dataclass(frozen=True)
class WordOutputs:
    """Every word of a page's lines, flat as tensors carry them: line i owns the next
    ``line_word_counts[i]`` words."""

    texts: Sequence[str]
    confidences: np.ndarray  # [words]
    polygons: np.ndarray  # [words, 4, 2], in the frame of the lines' polygons
    line_word_counts: np.ndarray  # [lines] int


@dataclass(frozen=True)
class TextOutputs:
    texts: Sequence[str]
    confidences: np.ndarray  # [n]
    polygons: np.ndarray  # [n, 4, 2], on the straightened page when the pipeline deskews
    skipped: SkippedStep | None = None
    words: WordOutputs | None = None  # None: the pipeline does not split lines into words


@dataclass(frozen=True)
class CheckboxOutputs:
    boxes: np.ndarray  # [n, 4], on the straightened page when the pipeline deskews
    checked: np.ndarray  # [n] bool
    confidence: np.ndarray  # [n]


@dataclass(frozen=True)
class SignatureOutputs:
    present: bool
    score: float
    box: np.ndarray  # [4] on the page turned upright (= as sent without orientation)


@dataclass(frozen=True)
class PageOutputs:
    """Whatever a pipeline computed for one page; ``None`` = the pipeline has no such step.

    ``page_height`` x ``page_width`` is the page as sent; the skew was measured on the page
    turned upright by ``orientation``.
    """

    page_height: int
    page_width: int
    orientation: PageOrientation | None = None
    skew_degrees: float | None = None
    document_type_probabilities: np.ndarray | None = None  # [len(document_types)]
    document_types: Sequence[str] = DOCUMENT_TYPES  # the answering classifier version's labels
    text: TextOutputs | None = None
    checkboxes: CheckboxOutputs | None = None
    signature: SignatureOutputs | None = None
    key_values: Sequence[KeyValue] | None = None  # on the straightened canvas, like the words


def assemble_page_result(
    outputs: PageOutputs, models: Models, timings_ms: Mapping[str, float] | None = None
) -> PageResult:
    def parts(name: str) -> list[ModelVersion]:
        return list(models.get(name, ()))

    to_page = _PageFrame(outputs.page_height, outputs.page_width, outputs.orientation,
                         outputs.skew_degrees)
    return PageResult(
        page=PageSize(width=outputs.page_width, height=outputs.page_height),
        orientation=None if outputs.orientation is None
        else Orientation(degrees=outputs.orientation.degrees,
                         score=round(outputs.orientation.score, 5), models=parts("orientation")),
        skew=None if outputs.skew_degrees is None
        else Skew(degrees=round(outputs.skew_degrees, 3), models=parts("skew")),
        document_type=None if outputs.document_type_probabilities is None
        else _document_type(outputs.document_type_probabilities, outputs.document_types,
                            parts("document_type")),
        text=None if outputs.text is None else _text(outputs.text, to_page, parts("text")),
        checkboxes=None if outputs.checkboxes is None
        else _checkboxes(outputs.checkboxes, to_page, parts("checkboxes")),
        signature=None if outputs.signature is None
        else _signature(outputs.signature, to_page, parts("signature")),
        key_values=None if outputs.key_values is None
        else [_key_value(pair, to_page) for pair in outputs.key_values],
        timings_ms={step: round(float(ms), 2) for step, ms in (timings_ms or {}).items()},
    )


def document_type_label(probabilities: np.ndarray, labels: Sequence[str] = DOCUMENT_TYPES) -> str:
    return labels[int(np.argmax(probabilities))]


class _PageFrame:
    """Maps points from the straightened canvas (if the pipeline deskewed) or from the page turned
    upright to the page as sent: the inverse of the skew rotation, then of the quarter turn."""

    def __init__(self, height: int, width: int, orientation: PageOrientation | None,
                 skew_degrees: float | None):
        self.height, self.width, self.skew_degrees = height, width, skew_degrees
        degrees = 0 if orientation is None else orientation.degrees
        self.upright_height, self.upright_width = upright_size(height, width, degrees)
        to_upright = np.vstack([orientation_transform(height, width, degrees), [0.0, 0.0, 1.0]])
        self._from_upright = np.linalg.inv(to_upright)[:2]

    def points(self, points: np.ndarray) -> np.ndarray:
        """Points on the straightened canvas (the upright page without deskew) -> page as sent."""
        if self.skew_degrees is not None:
            points = undo_deskew(points, self.upright_height, self.upright_width, self.skew_degrees)
        return self.upright_points(points)

    def upright_points(self, points: np.ndarray) -> np.ndarray:
        """Points on the page turned upright -> the page as sent."""
        points = np.asarray(points, dtype=np.float64)
        return (points @ self._from_upright[:, :2].T + self._from_upright[:, 2]).astype(np.float32)

    def bounds(self, polygon: np.ndarray) -> tuple[float, float, float, float]:
        low = np.clip(polygon.min(axis=0), 0, [self.width, self.height])
        high = np.clip(polygon.max(axis=0), 0, [self.width, self.height])
        return _rounded([*low, *high])


def _rounded(values: Sequence[float] | np.ndarray) -> tuple[float, ...]:
    return tuple(round(float(value), 1) for value in values)


def _polygon(corners: np.ndarray) -> tuple[tuple[float, float], ...]:
    return tuple(_rounded(corner) for corner in corners)


def _document_type(probabilities: np.ndarray, labels: Sequence[str],
                   models: list[ModelVersion]) -> DocumentType:
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    return DocumentType(
        label=document_type_label(probabilities, labels),
        score=round(float(probabilities.max()), 5),
        scores={label: round(float(p), 5) for label, p in zip(labels, probabilities, strict=True)},
        models=models,
    )


def _text(text: TextOutputs, frame: _PageFrame, models: list[ModelVersion]) -> Text:
    polygons = frame.points(np.asarray(text.polygons, dtype=np.float32).reshape(-1, 4, 2))
    words = [None] * len(polygons) if text.words is None else _line_words(text.words, frame)
    lines = [
        TextLine(text=line, confidence=round(float(confidence), 5), polygon=_polygon(polygon),
                 words=line_words)
        for line, confidence, polygon, line_words in zip(text.texts, text.confidences, polygons, words,
                                                         strict=True)
    ]
    return Text(lines=lines, skipped=text.skipped, models=models)


def _line_words(words: WordOutputs, frame: _PageFrame) -> list[list[Word]]:
    """The flat words, mapped like the lines, grouped by the line that owns them."""
    polygons = frame.points(np.asarray(words.polygons, dtype=np.float32).reshape(-1, 4, 2))
    flat = [Word(text=text, confidence=round(float(confidence), 5), polygon=_polygon(polygon))
            for text, confidence, polygon in zip(words.texts, words.confidences, polygons, strict=True)]
    ends = np.cumsum(words.line_word_counts, dtype=np.int64)
    return [flat[end - count : end] for end, count in zip(ends, words.line_word_counts, strict=True)]


def _checkboxes(found: CheckboxOutputs, frame: _PageFrame, models: list[ModelVersion]) -> Checkboxes:
    polygons = frame.points(box_corners(found.boxes))
    items = [
        Checkbox(box=frame.bounds(polygon), polygon=_polygon(polygon), checked=bool(checked),
                 score=round(float(confidence), 5))
        for polygon, checked, confidence in zip(polygons, found.checked, found.confidence, strict=True)
    ]
    return Checkboxes(items=items, models=models)


def _signature(found: SignatureOutputs, frame: _PageFrame, models: list[ModelVersion]) -> Signature:
    box = frame.bounds(frame.upright_points(box_corners(found.box)[0])) if found.present else None
    return Signature(present=found.present, score=round(found.score, 5), box=box, models=models)


def _word_tensors(lines: Sequence[TextLine]) -> dict[str, np.ndarray]:
    words = [word for line in lines for word in line.words]
    return {
        "page_word_texts": np.array([word.text.encode("utf-8") for word in words], dtype=np.object_),
        "page_word_confidences": np.array([word.confidence for word in words], dtype=np.float32),
        "page_word_polygons": np.array([word.polygon for word in words], dtype=np.float32).reshape(-1, 4, 2),
        "page_line_word_counts": np.array([len(line.words) for line in lines], dtype=np.int32),
    }


def _key_value(pair: KeyValue, frame: _PageFrame) -> KeyValue:
    """A pair found on the straightened canvas, every polygon on the page as sent."""
    def text(part: FieldText | None) -> FieldText | None:
        return None if part is None else part.model_copy(update={"polygon": _mapped(part.polygon, frame)})

    def option(part: FieldOption) -> FieldOption:
        return part.model_copy(update={"polygon": _mapped(part.polygon, frame)})

    return pair.model_copy(update={"key": text(pair.key), "value": text(pair.value),
                                   "date": text(pair.date), "options": [option(o) for o in pair.options]})


def _mapped(polygon, frame: _PageFrame):
    return _polygon(frame.points(np.asarray(polygon, dtype=np.float32).reshape(4, 2)))


def typed_outputs(result: PageResult) -> dict[str, np.ndarray]:
    """The page result's parts as the ``page_*`` tensors of the ``page_result`` model, for gRPC
    users who want arrays rather than JSON (only the parts the result has)."""
    tensors: dict[str, np.ndarray] = {}
    if result.orientation is not None:
        tensors["page_orientation_degrees"] = np.array([result.orientation.degrees], dtype=np.float32)
    if result.skew is not None:
        tensors["page_skew_degrees"] = np.array([result.skew.degrees], dtype=np.float32)
    if result.document_type is not None:
        tensors["page_document_type"] = np.array([result.document_type.label.encode()], dtype=np.object_)
    if result.text is not None:
        lines = result.text.lines
        tensors["page_line_texts"] = np.array([line.text.encode("utf-8") for line in lines], dtype=np.object_)
        tensors["page_line_confidences"] = np.array([line.confidence for line in lines], dtype=np.float32)
        tensors["page_line_polygons"] = np.array([line.polygon for line in lines],
                                                 dtype=np.float32).reshape(-1, 4, 2)
        if all(line.words is not None for line in lines):
            tensors.update(_word_tensors(lines))
    if result.checkboxes is not None:
        items = result.checkboxes.items
        boxes = np.array([item.box for item in items], dtype=np.float32)
        tensors["page_checkbox_boxes"] = boxes.reshape(-1, 4)
        tensors["page_checkbox_checked"] = np.array([item.checked for item in items], dtype=bool)
        tensors["page_checkbox_scores"] = np.array([item.score for item in items], dtype=np.float32)
    if result.signature is not None:
        signature = result.signature
        tensors["page_signature_present"] = np.array([signature.present])
        tensors["page_signature_score"] = np.array([signature.score], dtype=np.float32)
        tensors["page_signature_box"] = np.array(signature.box or (0.0, 0.0, 0.0, 0.0), dtype=np.float32)
    return tensors
