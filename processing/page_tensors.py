"""The ``page_result`` step's input tensors -> :class:`PageOutputs` and the steps' timings.

A pipeline maps whatever it computed onto ``page_result``'s optional inputs; an input that is
absent is a step the pipeline does not have (``None`` part). Values no step could have produced
(line texts that are no UTF-8, a garbled skip note) are the caller's: :class:`StepInputError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from docserve.contract.page_result import KeyValue, SkippedStep
from docserve.processing.page_assembly import (
    CheckboxOutputs,
    PageOutputs,
    SignatureOutputs,
    TextOutputs,
    WordOutputs,
)
from docserve.processing.page_orientation import PageOrientation
from docserve.processing.step_errors import StepInputError

Tensor = Callable[[str], "np.ndarray | None"]  # an input by name; None when the pipeline has none
TIMING_SUFFIX = "_ms"
WORD_TENSORS = ("word_texts", "word_confidences", "word_polygons", "line_word_counts")


def read_page_outputs(tensor: Tensor, labels: Callable[[int | None], Sequence[str]]) -> PageOutputs:
    """``labels(outputs)``: the document types of the classifier version that answered."""
    try:
        return _page_outputs(tensor, labels)
    except ValueError as error:
        raise StepInputError(str(error)) from error


def read_timings(tensor: Tensor, inputs: Iterable[str]) -> dict[str, float]:
    """``{step: ms}`` of the ``<step>_ms`` inputs the pipeline sent."""
    found = {name: tensor(name) for name in inputs if name.endswith(TIMING_SUFFIX)}
    return {name.removesuffix(TIMING_SUFFIX): float(value.reshape(-1)[0])
            for name, value in found.items() if value is not None}


def _page_outputs(tensor: Tensor, labels: Callable[[int | None], Sequence[str]]) -> PageOutputs:
    height, width = (int(side) for side in tensor("page_size").reshape(-1))
    skew = tensor("skew_degrees")
    probabilities = tensor("document_type_probabilities")
    probabilities = None if probabilities is None else probabilities.reshape(-1)
    return PageOutputs(
        page_height=height,
        page_width=width,
        orientation=_orientation(tensor),
        skew_degrees=None if skew is None else float(skew.reshape(-1)[0]),
        document_type_probabilities=probabilities,
        document_types=labels(None if probabilities is None else len(probabilities)),
        text=_text(tensor),
        checkboxes=_checkboxes(tensor),
        signature=_signature(tensor),
        key_values=_key_values(tensor),
    )


def _orientation(tensor: Tensor) -> PageOrientation | None:
    degrees = tensor("orientation_degrees")
    if degrees is None:
        return None
    return PageOrientation(degrees=int(degrees.reshape(-1)[0]),
                           score=float(tensor("orientation_score").reshape(-1)[0]))


def _text(tensor: Tensor) -> TextOutputs | None:
    texts = tensor("line_texts")
    if texts is None:
        return None
    skipped = tensor("text_skipped_json")
    skipped_json = b"" if skipped is None else bytes(skipped.reshape(-1)[0])
    return TextOutputs(
        texts=[bytes(text).decode("utf-8") for text in texts.reshape(-1)],
        confidences=tensor("line_confidences").reshape(-1),
        polygons=tensor("line_polygons"),
        skipped=SkippedStep.model_validate_json(skipped_json) if skipped_json else None,
        words=_words(tensor, len(texts.reshape(-1))),
    )


def _words(tensor: Tensor, line_count: int) -> WordOutputs | None:
    """The lines' words, when the pipeline maps them: all four word tensors or none, every word
    owned by one line, in order."""
    found = {name: tensor(name) for name in WORD_TENSORS}
    if all(value is None for value in found.values()):
        return None
    missing = [name for name, value in found.items() if value is None]
    if missing:
        raise ValueError(f"words without {', '.join(missing)}")
    texts, counts = found["word_texts"].reshape(-1), found["line_word_counts"].reshape(-1)
    confidences, polygons = found["word_confidences"].reshape(-1), found["word_polygons"]
    if len(confidences) != len(texts) or polygons.shape != (len(texts), 4, 2):
        raise ValueError(f"{len(texts)} word texts, {len(confidences)} confidences, polygons "
                         f"{list(polygons.shape)}")
    if len(counts) != line_count or np.any(counts < 0) or counts.sum() != len(texts):
        raise ValueError(f"line_word_counts {counts.tolist()} do not share {len(texts)} words "
                         f"among {line_count} lines")
    return WordOutputs(texts=[bytes(text).decode("utf-8") for text in texts], confidences=confidences,
                       polygons=polygons, line_word_counts=counts)


def _checkboxes(tensor: Tensor) -> CheckboxOutputs | None:
    boxes = tensor("checkbox_boxes")
    if boxes is None:
        return None
    return CheckboxOutputs(boxes=boxes, checked=tensor("checkbox_checked").reshape(-1),
                           confidence=tensor("checkbox_confidence").reshape(-1))


def _signature(tensor: Tensor) -> SignatureOutputs | None:
    present = tensor("signature_present")
    if present is None:
        return None
    return SignatureOutputs(present=bool(present.reshape(-1)[0]),
                            score=float(tensor("signature_score").reshape(-1)[0]),
                            box=tensor("signature_box").reshape(-1))


def _key_values(tensor: Tensor) -> list[KeyValue] | None:
    found = tensor("key_values_json")
    if found is None:
        return None
    pairs = json.loads(bytes(found.reshape(-1)[0]))  # a JSONDecodeError is a ValueError
    if not isinstance(pairs, list):
        raise ValueError("key_values_json is not a list of pairs")
    return [KeyValue.model_validate(pair) for pair in pairs]  # a ValidationError is a ValueError
