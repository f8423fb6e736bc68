"""Which document types a conditional step runs for, and the result part when it does not.

Shared by the ``ocr_gate`` Triton model and the in-process reference pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from docserve.contract.document_types import DOCUMENT_TYPES
from docserve.contract.page_result import SkippedStep
from docserve.processing.page_assembly import document_type_label
from docserve.processing.step_errors import StepInputError

EXPECTED_TYPES_PARAMETER = "expected_document_types"
UNEXPECTED_TYPE = "unexpected document type"


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
                  labels: Sequence[str] = DOCUMENT_TYPES) -> SkippedStep | None:
    """``None`` if the page's most probable type is expected, else why the step is skipped."""
    found = document_type_label(probabilities, labels)
    if found in expected:
        return None
    return SkippedStep(reason=UNEXPECTED_TYPE, document_type=found,
                       expected_document_types=list(expected))
