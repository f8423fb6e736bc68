"""One page's form fields: the key -> value model's pairs, the checkbox pairs and the signature.

The ``key_values`` model pairs printed keys with their written values from the words alone; it
does not see checkboxes or the signature. :mod:`docserve.processing.field_labels` ties those to
their labels. This module merges both into the page's ``key_values`` (in the upright frame; the
page assembly maps them onto the page as sent):

- a checkbox or signature pair wins over a text pair that uses any of its words: "Marital status:"
  followed by "single" and "married" is one checkbox pair, not a text pair "Marital status:" ->
  "single married";
- pairs come in reading order of their keys (top to bottom, then left to right).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from docserve.contract.page_result import FieldOption, FieldText, KeyValue
from docserve.processing import key_values
from docserve.processing.field_labels import (
    CheckboxField,
    PageWord,
    SignatureField,
    TextSpan,
    checkbox_fields,
    signature_fields,
)
from docserve.processing.page_rotation import box_corners, deskew_transform

KEY_VALUES_MODEL = "key_values"
KeyValueModel = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]  # featurized page -> logits


@dataclass(frozen=True)
class UprightPage:
    """Where the words were read: the page turned upright (``height`` x ``width``), then
    straightened by ``skew_degrees`` onto a larger canvas (None: the pipeline does not deskew)."""

    height: int
    width: int
    skew_degrees: float | None

    def canvas_size(self) -> tuple[int, int]:
        """(width, height) of the frame the words, checkboxes and pairs are in."""
        if self.skew_degrees is None:
            return self.width, self.height
        return deskew_transform(self.height, self.width, self.skew_degrees)[1]

    def to_canvas(self, box: np.ndarray) -> np.ndarray:
        """A box on the page turned upright (the signature's) -> its bounds on the canvas."""
        if self.skew_degrees is None:
            return np.asarray(box, dtype=np.float64)
        rotation, _ = deskew_transform(self.height, self.width, self.skew_degrees)
        corners = box_corners(np.asarray(box).reshape(1, 4))[0].astype(np.float64)
        moved = corners @ rotation[:, :2].T + rotation[:, 2]
        return np.concatenate([moved.min(axis=0), moved.max(axis=0)])


def page_key_values(words: Sequence[key_values.KvWord], page: UprightPage, model: KeyValueModel,
                    checkboxes: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
                    signature: tuple[bool, float, np.ndarray] | None) -> list[KeyValue]:
    """Every field of the page, on the canvas. ``model`` runs ``key_values`` (Triton BLS, or
    onnxruntime in the reference); ``checkboxes`` = (boxes [n, 4] on the canvas, checked [n],
    confidence [n]) and ``signature`` = (present, score, box [4] on the page turned upright),
    each None when the pipeline did not look for them."""
    page_words = [PageWord(index, word.text, word.box(), word.confidence)
                  for index, word in enumerate(words)]
    boxes = checkbox_fields(page_words, *checkboxes) if checkboxes is not None else []
    signed = [] if signature is None else signature_fields(
        page_words, signature[0], signature[1],
        tuple(page.to_canvas(signature[2]).tolist()) if signature[0] else None)
    taken = _words_of(boxes, signed)
    text = [pair for pair in _text_pairs(words, page, model)
            if not taken & {*pair.key.words, *(pair.value.words if pair.value else ())}]
    pairs = ([_text_pair(pair) for pair in text]
             + [_checkbox_pair(field) for field in boxes if field.key is not None]
             + [_signature_pair(field) for field in signed])
    return sorted(pairs, key=lambda pair: (round(pair.key.polygon[0][1]), pair.key.polygon[0][0]))


def _text_pairs(words: Sequence[key_values.KvWord], page: UprightPage,
                model: KeyValueModel) -> list[key_values.KeyValue]:
    if not words:
        return []  # nothing to pair, and the model takes at least one word
    return key_values.decode(words, model(key_values.featurize(words, *page.canvas_size()))).pairs


def _words_of(boxes: Sequence[CheckboxField], signed: Sequence[SignatureField]) -> set[int]:
    spans: list[TextSpan | None] = [field.key for field in boxes]
    spans += [option.label for field in boxes for option in field.options]
    spans += [field.key for field in signed] + [field.date for field in signed]
    return {index for span in spans if span is not None for index in span.words}


def _text_pair(pair: key_values.KeyValue) -> KeyValue:
    return KeyValue(key=_entity_text(pair.key),
                    value=_entity_text(pair.value) if pair.value is not None else None,
                    kind="text", confidence=round(float(pair.confidence), 5))


def _checkbox_pair(field: CheckboxField) -> KeyValue:
    value = field.value
    chosen = [option.label for option in field.options if option.checked and option.label is not None]
    return KeyValue(
        key=_span_text(field.key),
        value=None if value is None else FieldText(
            text=value, polygon=_union_polygon(chosen) if chosen else _corners(field.options[0].box),
            confidence=round(field.confidence, 5)),
        kind="checkbox",
        options=[FieldOption(text=option.text, checked=option.checked, polygon=_corners(option.box),
                             confidence=round(option.confidence, 5)) for option in field.options],
        confidence=round(field.confidence, 5))


def _signature_pair(field: SignatureField) -> KeyValue:
    return KeyValue(key=_span_text(field.key), value=None, kind="signature", present=field.present,
                    date=_span_text(field.date) if field.date is not None else None,
                    confidence=round(field.confidence, 5))


def _entity_text(entity: key_values.Entity) -> FieldText:
    return FieldText(text=entity.text, polygon=tuple(tuple(point) for point in entity.polygon),
                     confidence=round(float(entity.confidence), 5))


def _span_text(span: TextSpan) -> FieldText:
    return FieldText(text=span.text, polygon=_corners(span.box), confidence=round(span.confidence, 5))


def _union_polygon(spans: Sequence[TextSpan]):
    bounds = np.array([span.box for span in spans])
    return _corners((bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max()))


def _corners(box: Sequence[float]):
    x0, y0, x1, y1 = (round(float(value), 1) for value in box)
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
