"""Which document types a conditional step runs for, and the result part when it does not.

Shared by the ``ocr_gate`` Triton model and the in-process reference pipeline.

A step runs when the page's most probable type is expected, or when the expected types together
are at least :data:`MIN_EXPECTED_PROBABILITY` probable: a missed form costs its OCR (the text is
simply not read), an extra OCR costs time, so the gate leans towards running. The reported
document type stays the most probable one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from docserve.contract.document_types import DOCUMENT_TYPES
from docserve.contract.page_result import SkippedStep
from docserve.processing.page_assembly import document_type_label
from docserve.processing.step_errors import StepConfigurationError, StepInputError

EXPECTED_TYPES_PARAMETER = "expected_document_types"
UNEXPECTED_TYPE = "unexpected document type"
MIN_EXPECTED_PROBABILITY_PARAMETER = "min_expected_probability"
# Chosen for doc_classifier version 3's recipe on out-of-fold probabilities of the real training
# pages (5-fold cross-validation, never the validation pages), at the knee of the curve: real
# forms reaching OCR 0.772 -> 0.946, other types OCR'd 0.134 -> 0.262; the next form would cost
# 0.09 (0.957 of forms, 0.396 of the others). Measured on the real validation pages and recorded
# in model_repository/doc_classifier/README.md ("OCR gate"). A classifier trained on other types
# may want another value: ocr_gate's config parameter of this name.
MIN_EXPECTED_PROBABILITY = 0.15


class GateConfigurationError(StepInputError):
    """The expected document types are missing or name a type the classifier does not know."""


def parse_expected_types(value: object,
                         known: Sequence[str] = DOCUMENT_TYPES) -> tuple[str, ...]:
    """``"application_form, invoice"`` -> ``("application_form", "invoice")``, checked against
    the ``known`` types (those of the classifier version being served)."""
    if not isinstance(value, str) or not value.strip():
        raise GateConfigurationError(
            f"request parameter {EXPECTED_TYPES_PARAMETER!r} is missing: send the pipeline's "
            f"expected document types (comma-separated, see its ensemble config's parameters)"
        )
    expected = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = sorted(set(expected) - set(known))
    if unknown:
        raise GateConfigurationError(
            f"unknown document types {unknown} in {EXPECTED_TYPES_PARAMETER!r}; "
            f"known: {', '.join(known)}"
        )
    return expected


def skip_for_type(probabilities: np.ndarray, expected: Sequence[str],
                  labels: Sequence[str] = DOCUMENT_TYPES,
                  min_probability: float = MIN_EXPECTED_PROBABILITY) -> SkippedStep | None:
    """``None`` if the page's most probable type is expected or the expected types together are
    at least ``min_probability`` probable, else why the step is skipped."""
    found = document_type_label(probabilities, labels)
    if found in expected or expected_probability(probabilities, expected, labels) >= min_probability:
        return None
    return SkippedStep(reason=UNEXPECTED_TYPE, document_type=found,
                       expected_document_types=list(expected))


def expected_probability(probabilities: np.ndarray, expected: Sequence[str],
                         labels: Sequence[str] = DOCUMENT_TYPES) -> float:
    """P(the page is one of the ``expected`` types): their probabilities summed."""
    return float(sum(probabilities[labels.index(name)] for name in expected))


def min_expected_probability(value: float) -> float:
    """The gate's threshold, checked: a probability in [0, 1] (1 runs only the most probable)."""
    if not 0.0 <= value <= 1.0:
        raise StepConfigurationError(
            f"{MIN_EXPECTED_PROBABILITY_PARAMETER!r} must lie in [0, 1], not {value}")
    return value
