"""The car evaluation model's contract: attribute vocabularies, one-hot features, class labels.

Training encodes records with :func:`encode_records`; Triton's ``car_evaluation_preprocess``
encodes request tensors with the same function, and ``car_evaluation_postprocess`` names classes
with :data:`CLASS_LABELS`. Changing an order here means retraining the model. The car_evaluation
configs restate the attributes (tensor names), the feature count and the labels; a test ties them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from docserve.processing.step_errors import StepInputError

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "buying": ("vhigh", "high", "med", "low"),
    "maint": ("vhigh", "high", "med", "low"),
    "doors": ("2", "3", "4", "5more"),
    "persons": ("2", "4", "more"),
    "lug_boot": ("small", "med", "big"),
    "safety": ("low", "med", "high"),
}
CLASS_LABELS: tuple[str, ...] = ("unacc", "acc", "good", "vgood")
FEATURE_COUNT = sum(len(values) for values in ATTRIBUTES.values())

_OFFSETS = dict(zip(ATTRIBUTES, np.cumsum([0, *[len(v) for v in ATTRIBUTES.values()]][:-1]), strict=False))
_INDEX = {name: {value: i for i, value in enumerate(values)} for name, values in ATTRIBUTES.items()}


class UnknownCategoryError(StepInputError):
    """A record holds a value outside its attribute's vocabulary (or misses an attribute)."""


def _as_text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def encode_columns(columns: Mapping[str, Sequence[object]]) -> np.ndarray:
    """One-hot encode attribute columns (str or bytes values) into ``[rows, FEATURE_COUNT]`` float32.

    Raises :class:`UnknownCategoryError` naming the attribute, row and value, and listing the
    accepted values, so a client can fix its request.
    """
    missing = [name for name in ATTRIBUTES if name not in columns]
    if missing:
        raise UnknownCategoryError(f"missing attribute(s): {', '.join(missing)}")
    lengths = {len(columns[name]) for name in ATTRIBUTES}
    if len(lengths) != 1:
        raise UnknownCategoryError(f"attribute columns differ in length: {sorted(lengths)}")
    rows = lengths.pop()
    features = np.zeros((rows, FEATURE_COUNT), dtype=np.float32)
    for name, index in _INDEX.items():
        for row, raw in enumerate(columns[name]):
            value = _as_text(raw)
            position = index.get(value)
            if position is None:
                raise UnknownCategoryError(
                    f"unknown value {value!r} for '{name}' in record {row}; "
                    f"expected one of {', '.join(ATTRIBUTES[name])}"
                )
            features[row, _OFFSETS[name] + position] = 1.0
    return features


def encode_records(records: Sequence[Mapping[str, object]]) -> np.ndarray:
    """One-hot encode a list of ``{attribute: value}`` records (see :func:`encode_columns`)."""
    columns = {name: [record.get(name) for record in records] for name in ATTRIBUTES}
    for name, values in columns.items():
        for row, value in enumerate(values):
            if value is None:
                raise UnknownCategoryError(f"record {row} has no '{name}'")
    return encode_columns(columns)


def labels_for(probabilities: np.ndarray) -> list[str]:
    """The most probable class label of each row of ``[rows, len(CLASS_LABELS)]`` probabilities."""
    return [CLASS_LABELS[i] for i in np.argmax(probabilities, axis=1)]
